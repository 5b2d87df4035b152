#!/usr/bin/env python3
"""Read a ddpg_cuda checkpoint into NumPy arrays, and run its actor.

    python3 scripts/checkpoint.py runs/pendulum/checkpoint.bin      # a summary
    python3 scripts/checkpoint.py CKPT --act 1,0,0                  # the actor's action

    from checkpoint import load
    ck = load("runs/pendulum/checkpoint.bin")
    ck.tensors["actor.params"]         # float32 array, the actor's flat parameters
    ck.act(np.array([[1.0, 0.0, 0.0]], dtype=np.float32))

The format (version 1), every number in the byte order of the machine that wrote it
(byte_order says which; this reader takes little-endian files, the byte order of every
machine ddpg_cuda runs on):

    header, 256 bytes:
        magic        8 bytes   b"DDPGCKPT"
        version      uint32    1
        byte_order   uint32    0x01020304
        header_bytes uint32    256
        n_tensors    uint32
        config_bytes uint64
        body_bytes   uint64
        env          32 bytes  Gymnasium id, NUL-terminated ("Pendulum-v1")
        algo         16 bytes  "ddpg" or "td3"
        obs_dim, act_dim, n_hidden    int32 each
        hidden       8 x int32 hidden widths (n_hidden of them used)
        flags        uint32    bit 0: the replay ring is in the file; bit 1: the hidden
                               layers are normalised (LayerNorm: Linear, LayerNorm, ReLU)
        reserved     120 bytes zero
    table, n_tensors entries of 72 bytes:
        name 48 bytes (NUL-terminated), dtype uint32, elem_size uint32,
        count uint64, offset uint64 (from the start of the body)
    configuration, config_bytes of text: the run's options as command-line words,
        one per line ("--seed", "42", "--hidden", "256,256", ...)
    body, body_bytes: the tensors at their offsets, in table order
    crc32 uint32: zlib.crc32 of every byte before it

dtype: 1 float32, 2 float64, 3 int32, 4 int64, 5 uint64, 6 uint32, 7 uint8 (an
environment's state structs, env.state: the bytes of n C structs, its header's State).

The actor ("actor.params") is an MLP flat as torch.nn.Linear keeps it, layer by layer:
W (out, in) row-major, then b (out); ReLU on hidden layers, and on the output
scale * tanh(z) + shift with scale = (high - low) / 2 and shift = (high + low) / 2
from "actor.action_low" and "actor.action_high". Tensors named "train.*" are the
training loop's counters; the rest are named after the buffers of include/ddpg/*.h.
"""
import argparse
import struct
import sys
import zlib

import numpy as np

MAGIC = b"DDPGCKPT"
VERSION = 1
HEADER = struct.Struct("<8sIIIIQQ32s16siii8iI120x")
ENTRY = struct.Struct("<48sIIQQ")
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.int64, 5: np.uint64, 6: np.uint32,
          7: np.uint8}
assert HEADER.size == 256 and ENTRY.size == 72


class CheckpointError(Exception):
    """The file is not a checkpoint this reader can take (the message says why)."""


class Checkpoint:
    def __init__(self, env, algo, obs_dim, act_dim, hidden, has_replay, config, tensors,
                 layer_norm=False):
        self.env, self.algo = env, algo
        self.obs_dim, self.act_dim, self.hidden = obs_dim, act_dim, hidden
        self.has_replay, self.layer_norm = has_replay, layer_norm
        self.config = config      # {"--seed": "42", "--hidden": "256,256", "--save-replay": True}
        self.tensors = tensors    # name -> NumPy array

    def actor_layers(self):
        """[(W, b, norm)] of the actor, W (out, in); norm is (gain, shift) of a normalised
        hidden layer, else None. Flat layout per layer: W, b, then gain and shift."""
        sizes = [self.obs_dim] + list(self.hidden) + [self.act_dim]
        p, at, layers = self.tensors["actor.params"], 0, []
        for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            w = p[at:at + o * i].reshape(o, i)
            at += o * i
            b = p[at:at + o]
            at += o
            norm = None
            if self.layer_norm and k < len(sizes) - 2:
                norm = (p[at:at + o], p[at + o:at + 2 * o])
                at += 2 * o
            layers.append((w, b, norm))
        assert at == p.size, "actor.params does not hold the layers the header names"
        return layers

    def act(self, obs):
        """mu(obs) for obs (n, obs_dim), in float32 as the trainer computes it."""
        x = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        layers = self.actor_layers()
        for k, (w, b, norm) in enumerate(layers):
            x = x @ w.T + b
            if norm is not None:  # torch.nn.LayerNorm, eps 1e-5, biased variance
                mean = x.mean(axis=1, keepdims=True, dtype=np.float64)
                var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
                x = ((x - mean) / np.sqrt(var + 1e-5) * norm[0] + norm[1]).astype(np.float32)
            if k < len(layers) - 1:
                x = np.maximum(x, np.float32(0))
        low, high = self.tensors["actor.action_low"], self.tensors["actor.action_high"]
        scale, shift = np.float32(0.5) * (high - low), np.float32(0.5) * (high + low)
        return (scale * np.tanh(x) + shift).astype(np.float32)


def _text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _config(text):
    words, out, i = text.split("\n"), {}, 0
    words = [w for w in words if w]
    while i < len(words):
        name = words[i]
        if i + 1 < len(words) and not words[i + 1].startswith("--"):
            out[name] = words[i + 1]
            i += 2
        else:
            out[name] = True
            i += 1
    return out


def load(path):
    """The checkpoint at path, every check made (as the C loader makes them)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER.size:
        raise CheckpointError(f"{path}: truncated: {len(data)} bytes, less than the header")
    (magic, version, byte_order, header_bytes, n_tensors, config_bytes, body_bytes, env, algo,
     obs_dim, act_dim, n_hidden, *rest) = HEADER.unpack_from(data, 0)
    hidden, flags = rest[:8][:n_hidden], rest[8]
    if magic != MAGIC:
        raise CheckpointError(f"{path}: not a ddpg_cuda checkpoint (wrong magic)")
    if byte_order != 0x01020304:
        raise CheckpointError(f"{path}: written on a machine of another byte order")
    if version > VERSION:
        raise CheckpointError(f"{path}: format version {version} is newer than this reader's")
    want = HEADER.size + n_tensors * ENTRY.size + config_bytes + body_bytes + 4
    if len(data) != want:
        raise CheckpointError(f"{path}: {len(data)} bytes where the header describes {want}")
    stored, = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != stored:
        raise CheckpointError(f"{path}: checksum mismatch: the file is damaged")
    at = HEADER.size
    table = [ENTRY.unpack_from(data, at + k * ENTRY.size) for k in range(n_tensors)]
    at += n_tensors * ENTRY.size
    config = _config(data[at:at + config_bytes].decode("utf-8"))
    body = at + config_bytes
    tensors = {}
    for name, dtype, elem_size, count, offset in table:
        dt = np.dtype(DTYPES[dtype]).newbyteorder("<")
        assert dt.itemsize == elem_size, f"{_text(name)}: element size {elem_size}"
        tensors[_text(name)] = np.frombuffer(data, dtype=dt, count=count,
                                             offset=body + offset).copy()
    return Checkpoint(_text(env), _text(algo), obs_dim, act_dim, list(hidden),
                      bool(flags & 1), config, tensors, layer_norm=bool(flags & 2))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--act", metavar="OBS", help="comma-separated observation: print mu(OBS)")
    args = ap.parse_args(argv)
    try:
        ck = load(args.checkpoint)
    except (OSError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.act:
        obs = np.array([float(v) for v in args.act.split(",")], dtype=np.float32)
        print(" ".join(f"{a:.6g}" for a in ck.act(obs)[0]))
        return 0
    print(f"{ck.env} ({ck.algo}): obs {ck.obs_dim}, act {ck.act_dim}, hidden {ck.hidden}, "
          f"replay {'saved' if ck.has_replay else 'not saved'}")
    for name, a in ck.tensors.items():
        print(f"  {name:32s} {str(a.dtype):8s} {a.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
