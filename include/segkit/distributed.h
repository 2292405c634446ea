#pragma once
// Where a process stands in a multi-process job: which launcher started it (torchrun, Slurm's
// srun, Open MPI's mpirun) and, for data-parallel training, where the group meets.
// docs/distributed.md has the launch recipes.
#include <optional>
#include <string>

namespace segkit {

// This process's place among the processes a launcher started.
struct LauncherRank {
  int rank = 0, world_size = 1;
  std::string source;  // the variables it came from, "RANK=1, WORLD_SIZE=2", for messages
};

// The first set pair of: torchrun's RANK/WORLD_SIZE, (with `job_arrays`) a Slurm job array's
// SLURM_ARRAY_TASK_ID (from SLURM_ARRAY_TASK_MIN)/SLURM_ARRAY_TASK_COUNT, Slurm's
// SLURM_PROCID/SLURM_NTASKS, Open MPI's OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE; nothing when
// none is set. Error "<context>: …" for values that are not whole numbers or a rank >= size.
std::optional<LauncherRank> launcher_rank(const std::string& context, bool job_arrays);

// A process group of data-parallel training.
struct DistributedOptions {
  std::string url;  // "tcp://HOST:PORT" where rank 0 listens; empty = not distributed
  int rank = 0, world_size = 1;
  double timeout_seconds = 300;  // a collective or rendezvous that waits longer fails
  // torchrun's agent already listens at the address (TORCHELASTIC_USE_AGENT_STORE): rank 0
  // then joins its store as the others do; `attempt` (TORCHELASTIC_RESTART_COUNT) keeps the
  // keys of a restarted job apart from the last attempt's.
  bool launcher_hosts_store = false;
  int attempt = 0;
  bool active() const { return !url.empty(); }
};

// The group a launcher's environment describes: launcher_rank (no job arrays) with MASTER_ADDR
// and MASTER_PORT; nothing when no launcher variables are set or the world has one process.
// Error when the variables are set but incomplete or malformed.
std::optional<DistributedOptions> distributed_from_environment();

// The group a run asks for, as its user gave it. `url`: "tcp://HOST:PORT" (where rank 0 listens;
// with rank and world_size, or a launcher's RANK and WORLD_SIZE), "env://" (a launcher's
// variables, which must be set) or "" (a launcher's variables where set, else no group);
// rank and world_size -1 where not given.
struct DistributedRequest {
  std::string url;
  int rank = -1, world_size = -1;
  double timeout_seconds = 300;
};
// The caller's words for the request's fields, for messages: the CLI's flags, Python's arguments.
struct DistributedRequestNames {
  std::string url = "--dist-url", rank = "--rank", world_size = "--world-size";
};
// The options the request means; Error naming the field for an incomplete or malformed one.
DistributedOptions resolve_distributed(const DistributedRequest& request, const DistributedRequestNames& names = {});

// "HOST:PORT" (or "tcp://HOST:PORT") checked; Error naming `context` otherwise.
std::string checked_dist_url(const std::string& url, const std::string& context);

// Whether this build can join a process group (LibTorch's c10d with Gloo was found).
bool distributed_available();

}  // namespace segkit
