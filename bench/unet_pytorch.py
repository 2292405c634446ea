#!/usr/bin/env python3
"""The U-Net of segkit (same layers, same state-dict names) and the same training step in
PyTorch, timed the way bench_unet times segkit: seconds per training step (forward, cross-entropy
+ Dice, backward, AdamW) and seconds per whole-image inference. Prints JSON lines.

Needs Debian's python3-torch (run it with /usr/bin/python3). Also loads a segkit checkpoint:
    /usr/bin/python3 bench/unet_pytorch.py --checkpoint RUN/best.safetensors   (prints its config)
"""
import argparse
import json
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    """conv1, bn1, conv2, bn2 — the names segkit's checkpoints use."""

    def __init__(self, cin, cout, bn=True, pad=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=pad, bias=not bn)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=pad, bias=not bn)
        self.bn1 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.bn2 = nn.BatchNorm2d(cout) if bn else nn.Identity()

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


class Up(DoubleConv):
    """up (ConvTranspose2d, or 1×1 Conv2d after bilinear ×2), then conv1, bn1, conv2, bn2."""

    def __init__(self, coarse, fine, bn, pad, bilinear):
        super().__init__(2 * fine, fine, bn, pad)
        self.bilinear = bilinear
        self.up = nn.Conv2d(coarse, fine, 1) if bilinear else nn.ConvTranspose2d(coarse, fine, 2, stride=2)

    def forward(self, x, skip):
        if self.bilinear:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = self.up(x)
        dy, dx = (skip.shape[2] - x.shape[2]) // 2, (skip.shape[3] - x.shape[3]) // 2
        skip = skip[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
        return super().forward(torch.cat([skip, x], 1))


class UNet(nn.Module):
    def __init__(self, in_channels=1, classes=2, depth=4, width=16, batch_norm=True, upsample="transpose",
                 padding="same"):
        super().__init__()
        pad = 1 if padding == "same" else 0
        self.encoder = nn.ModuleList()
        cin = in_channels
        for level in range(depth + 1):
            self.encoder.append(DoubleConv(cin, width << level, batch_norm, pad))
            cin = width << level
        self.decoder = nn.ModuleList(
            Up(width << (level + 1), width << level, batch_norm, pad, upsample == "bilinear")
            for level in reversed(range(depth)))
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        skips = []
        for block in self.encoder[:-1]:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.encoder[-1](x)
        for up, skip in zip(self.decoder, reversed(skips)):
            x = up(x, skip)
        return self.head(x)


def dice_loss(logits, target, eps=1.0):
    prob = logits.softmax(1)
    truth = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (prob * truth).sum((0, 2, 3))
    total = prob.sum((0, 2, 3)) + truth.sum((0, 2, 3))
    return 1 - ((2 * inter + eps) / (total + eps)).mean()


class Ensemble(nn.Module):
    """What `segkit unet ensemble` writes: the members' class probabilities averaged, returned as
    log-probabilities."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        return torch.stack([m(x).softmax(1) for m in self.members]).mean(0).log()


def load_segkit_checkpoint(path):
    """A segkit U-Net checkpoint (plain safetensors) into this module, strictly; an ensemble
    checkpoint into Ensemble."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__")
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    state = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        state[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[t["dtype"]]).reshape(t["shape"])

    def unet(config):
        return UNet(config["in_channels"], config["classes"], config["depth"], config["width"], config["batch_norm"],
                    config["upsample"], config["padding"])

    if "segkit.unet.ensemble" in metadata:
        config = json.loads(metadata["segkit.unet.ensemble"])
        model = Ensemble([unet(c) for c in config])
    else:
        config = json.loads(metadata["segkit.unet.config"])
        model = unet(config)
    model.load_state_dict(state, strict=True)
    return model, config


def main():
    p = argparse.ArgumentParser()
    for name, default in [("width", 16), ("depth", 4), ("crop", 256), ("batch", 4), ("size", 512), ("steps", 10),
                          ("images", 5), ("threads", 2)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--checkpoint")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.checkpoint:
        model, config = load_segkit_checkpoint(a.checkpoint)
        print(json.dumps({"checkpoint": a.checkpoint, "config": config,
                          "parameters": sum(t.numel() for t in model.parameters())}))
        return
    torch.manual_seed(0)
    model = UNet(1, 2, a.depth, a.width)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    x = torch.randn(a.batch, 1, a.crop, a.crop)
    y = torch.randint(0, 2, (a.batch, a.crop, a.crop))

    def step():
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y) + dice_loss(logits, y)
        loss.backward()
        opt.step()

    model.train()
    step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    train_s = (time.perf_counter() - t0) / a.steps
    print(json.dumps({"bench": "unet_train_step", "impl": "pytorch " + torch.__version__, "width": a.width,
                      "depth": a.depth, "batch": a.batch, "crop": a.crop, "threads": a.threads,
                      "seconds_per_step": train_s, "images_per_s": a.batch / train_s}), flush=True)

    model.eval()
    image = torch.randn(1, 1, a.size, a.size)
    with torch.inference_mode():
        model(image).argmax(1)
        t0 = time.perf_counter()
        for _ in range(a.images):
            model(image).softmax(1).argmax(1)
        infer_s = (time.perf_counter() - t0) / a.images
    print(json.dumps({"bench": "unet_infer", "impl": "pytorch " + torch.__version__, "width": a.width,
                      "depth": a.depth, "size": a.size, "threads": a.threads, "seconds_per_image": infer_s,
                      "mpx_per_s": a.size * a.size / 1e6 / infer_s}), flush=True)


if __name__ == "__main__":
    main()
