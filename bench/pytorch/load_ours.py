"""Loads our checkpoints into the PyTorch twin's models (makemore's) and evaluates them there:
the same test loss from both engines shows that the architectures agree and that the
safetensors files are read correctly by plain NumPy (no safetensors package needed).

    /usr/bin/python3 bench/pytorch/load_ours.py out/names-gru/best.safetensors ...
"""

import json
import os
import struct
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

try:
    import numpy as np
    import torch
except ImportError:
    print("bench/pytorch/load_ours.py: torch is not installed here; skipping")
    sys.exit(0)

sys.path.insert(0, os.path.dirname(__file__))
import names as twin  # noqa: E402


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = {"F64": "<f8", "F32": "<f4"}[entry["dtype"]]
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"]).copy()
    return tensors, metadata


def main():
    words = [w.strip() for w in open("data/names.txt", encoding="utf-8").read().splitlines() if w.strip()]
    _, test = twin.split_words(words, 3407)
    chars = sorted(set("".join(words)))
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    for path in sys.argv[1:]:
        tensors, metadata = read_safetensors(path)
        config = json.loads(metadata["config"])

        class Config:
            pass
        c = Config()
        c.vocab_size, c.block_size = config["vocabSize"], config["blockSize"]
        c.n_layer, c.n_head, c.n_embd, c.n_embd2 = config["nLayer"], config["nHead"], config["nEmbd"], config["nEmbd2"]
        model = twin.build(metadata["type"], c)
        state = {k: torch.tensor(v).float() for k, v in tensors.items() if not k.startswith("optimizer.")}
        result = model.load_state_dict(state, strict=False)
        # The only keys PyTorch may miss are the causal masks (buffers, not parameters).
        assert all(k.endswith(".bias") and ("cbow" in k or "attn" in k) for k in result.missing_keys), result.missing_keys
        assert not result.unexpected_keys, result.unexpected_keys
        x, y = twin.examples(test, stoi, c.block_size)
        ours = json.loads(metadata["training"])["best"]["losses"]["test"]
        print(json.dumps({"checkpoint": path, "type": metadata["type"], "testLossOurs": ours,
                          "testLossPyTorch": twin.mean_loss(model, x, y)}))


if __name__ == "__main__":
    main()
