"""Threads: all cores by default, as the CLI; OMP_NUM_THREADS in charge where set (as PyTorch)."""
import os
import subprocess
import sys


def threads_in_fresh_process(omp_num_threads):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp_num_threads is not None:
        env["OMP_NUM_THREADS"] = omp_num_threads
    code = "import segkit; print(segkit.num_threads())"
    return int(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                              text=True).stdout)


def test_all_cores_by_default_and_omp_num_threads_respected():
    assert threads_in_fresh_process(None) == os.cpu_count()
    assert threads_in_fresh_process("1") == 1


def test_set_num_threads():
    import segkit

    before = segkit.num_threads()
    try:
        segkit.set_num_threads(1)
        assert segkit.num_threads() == 1
        segkit.set_num_threads(0)
        assert segkit.num_threads() == os.cpu_count()
    finally:
        segkit.set_num_threads(before)
