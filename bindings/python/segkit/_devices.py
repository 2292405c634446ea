"""Devices as transformers and PyTorch users name them: "cpu", "cuda", "cuda:1", an int (a GPU
index, -1 the CPU, as transformers' pipeline takes) or a torch.device."""


def device_name(device):
    """segkit's name for `device`; TypeError for a value that names no device."""
    if device is None:
        return "cpu"
    if isinstance(device, bool):
        raise TypeError(f"device: expected a name (\"cpu\", \"cuda:0\") or a GPU index, got {device!r}")
    if isinstance(device, int):
        return "cpu" if device < 0 else f"cuda:{device}"
    if isinstance(device, str):
        return device
    if type(device).__name__ == "device" and hasattr(device, "type"):  # a torch.device, without importing torch
        return device.type if device.index is None else f"{device.type}:{device.index}"
    raise TypeError(f"device: expected a name (\"cpu\", \"cuda:0\") or a GPU index, got {type(device).__name__}")
