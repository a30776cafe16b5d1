"""PyTorch twin of examples/names.ts: makemore's models and training loop, same data file,
same split, same config and schedule, so that test loss and ms/step compare one to one.

    /usr/bin/python3 bench/pytorch/names.py --type gru --max-steps 5000

The models are makemore's (Bigram, MLP, RNN, GRU, BoW, Transformer), with the parameter
names our models use. Differences from makemore, shared with examples/names.ts: evaluation
every 500 steps *and after the last*, on fixed sets (the whole test set; the first 1,000
training names), as a mean over counted targets. Our engine is float64; PyTorch runs its
default float32. Prints one JSON line (and writes it with --out). Exits 0 with a message
when torch is missing.
"""

import argparse
import json
import math
import os
import sys
import time


def threads_from_argv(default=2):
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return str(default)


# torch.set_num_threads does not reach OpenBLAS's own thread pool (Debian's pthread build):
# without these, a "1-thread" run still multiplies on every core, and on a loaded machine
# its small products wait on each other (measured here: 342 ms/step instead of 59 for bow).
# They must be set before torch is imported.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = threads_from_argv()

try:
    import torch
    import torch.nn as nn
    from torch.nn import functional as F
except ImportError:
    print("bench/pytorch/names.py: torch is not installed here "
          "(apt-get install -y python3-torch libopenblas0-pthread); skipping")
    sys.exit(0)


# --- the split: our Random (Mulberry32) and shuffle, so the test set is the same names ---

class Mulberry32:
    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF

    def next(self):
        self.state = (self.state + 0x6D2B79F5) & 0xFFFFFFFF
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296


def split_words(words, seed):
    order = list(words)
    random = Mulberry32(seed)
    for i in range(len(order) - 1, 0, -1):
        j = math.floor(random.next() * (i + 1))
        order[i], order[j] = order[j], order[i]
    test_size = min(1000, len(words) // 10)
    return order[:len(order) - test_size], order[len(order) - test_size:]


def examples(words, stoi, block_size):
    x = torch.zeros(len(words), block_size, dtype=torch.long)
    y = torch.full((len(words), block_size), -1, dtype=torch.long)
    for row, w in enumerate(words):
        ids = [stoi[c] for c in w]
        x[row, 1:1 + len(ids)] = torch.tensor(ids)
        y[row, :len(ids)] = torch.tensor(ids)
        y[row, len(ids)] = 0
    return x, y


# --- makemore's models ---

class NewGELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd)
        self.register_buffer("bias", torch.tril(torch.ones(c.block_size, c.block_size)).view(1, 1, c.block_size, c.block_size))
        self.n_head, self.n_embd = c.n_head, c.n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(c.n_embd, 4 * c.n_embd), c_proj=nn.Linear(4 * c.n_embd, c.n_embd), act=NewGELU()))
        m = self.mlp
        self.mlpf = lambda x: m.c_proj(m.act(m.c_fc(x)))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlpf(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd), wpe=nn.Embedding(c.block_size, c.n_embd),
            h=nn.ModuleList([Block(c) for _ in range(c.n_layer)]), ln_f=nn.LayerNorm(c.n_embd)))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)

    def forward(self, idx):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


class CausalBoW(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.register_buffer("bias", torch.tril(torch.ones(c.block_size, c.block_size)).view(1, c.block_size, c.block_size))

    def forward(self, x):
        B, T, C = x.size()
        att = torch.zeros((B, T, T))
        att = att.masked_fill(self.bias[:, :T, :T] == 0, float("-inf"))
        return F.softmax(att, dim=-1) @ x


class BoWBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.cbow = CausalBoW(c)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(c.n_embd, c.n_embd2), c_proj=nn.Linear(c.n_embd2, c.n_embd)))
        m = self.mlp
        self.mlpf = lambda x: m.c_proj(F.tanh(m.c_fc(x)))

    def forward(self, x):
        x = x + self.cbow(x)
        return x + self.mlpf(x)


class BoW(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.context_block = BoWBlock(c)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size)

    def forward(self, idx):
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
        x = self.context_block(self.wte(idx) + self.wpe(pos))
        return self.lm_head(x)


class RNNCell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.xh_to_h = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)

    def forward(self, xt, hprev):
        return F.tanh(self.xh_to_h(torch.cat([xt, hprev], dim=1)))


class GRUCell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.xh_to_z = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)
        self.xh_to_r = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)
        self.xh_to_hbar = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        r = F.sigmoid(self.xh_to_r(xh))
        hbar = F.tanh(self.xh_to_hbar(torch.cat([xt, r * hprev], dim=1)))
        z = F.sigmoid(self.xh_to_z(xh))
        return (1 - z) * hprev + z * hbar


class RNN(nn.Module):
    def __init__(self, c, cell_type):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, c.n_embd2))
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.cell = RNNCell(c) if cell_type == "rnn" else GRUCell(c)
        self.lm_head = nn.Linear(c.n_embd2, c.vocab_size)

    def forward(self, idx):
        b, t = idx.size()
        emb = self.wte(idx)
        hprev = self.start.expand((b, -1))
        hiddens = []
        for i in range(t):
            hprev = self.cell(emb[:, i, :], hprev)
            hiddens.append(hprev)
        return self.lm_head(torch.stack(hiddens, 1))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block_size, self.vocab_size = c.block_size, c.vocab_size
        self.wte = nn.Embedding(c.vocab_size + 1, c.n_embd)
        self.mlp = nn.Sequential(nn.Linear(c.block_size * c.n_embd, c.n_embd2), nn.Tanh(), nn.Linear(c.n_embd2, c.vocab_size))

    def forward(self, idx):
        embs = []
        for _ in range(self.block_size):
            embs.append(self.wte(idx))
            idx = torch.roll(idx, 1, 1)
            idx[:, 0] = self.vocab_size
        return self.mlp(torch.cat(embs, -1))


class Bigram(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros((c.vocab_size, c.vocab_size)))

    def forward(self, idx):
        return self.logits[idx]


def build(type_, c):
    return {"bigram": lambda: Bigram(c), "mlp": lambda: MLP(c), "rnn": lambda: RNN(c, "rnn"),
            "gru": lambda: RNN(c, "gru"), "bow": lambda: BoW(c), "transformer": lambda: Transformer(c)}[type_]()


@torch.inference_mode()
def mean_loss(model, x, y):
    total, count = 0.0, 0
    for start in range(0, x.size(0), 100):
        logits = model(x[start:start + 100])
        yy = y[start:start + 100]
        total += F.cross_entropy(logits.view(-1, logits.size(-1)), yy.reshape(-1), ignore_index=-1, reduction="sum").item()
        count += (yy != -1).sum().item()
    return total / count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--type", default="transformer")
    p.add_argument("--input-file", default="data/names.txt")
    p.add_argument("--max-steps", type=int, default=5000)
    p.add_argument("--seed", type=int, default=3407)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--n-embd2", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--eval-interval", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=0, help="steps left out of ms/step (speed runs)")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    words = [w.strip() for w in open(a.input_file, encoding="utf-8").read().splitlines() if w.strip()]
    train, test = split_words(words, a.seed)
    chars = sorted(set("".join(words)))
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    block_size = max(len(w) for w in words) + 1

    class Config:
        pass
    c = Config()
    c.vocab_size, c.block_size = len(chars) + 1, block_size
    c.n_layer, c.n_head, c.n_embd, c.n_embd2 = a.n_layer, a.n_head, a.n_embd, a.n_embd2
    model = build(a.type, c)
    params = sum(q.numel() for q in model.parameters())
    xtr, ytr = examples(train, stoi, block_size)
    xte, yte = examples(test, stoi, block_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.learning_rate, weight_decay=a.weight_decay, betas=(0.9, 0.99), eps=1e-8)
    evaluations, best, train_ms, times = [], None, 0.0, []
    for step in range(1, a.max_steps + 1):
        t0 = time.perf_counter()
        rows = torch.randint(0, xtr.size(0), (a.batch_size,))
        X, Y = xtr[rows], ytr[rows]
        logits = model(X)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), Y.view(-1), ignore_index=-1)
        model.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ms = (time.perf_counter() - t0) * 1000
        train_ms += ms
        if step > a.warmup:
            times.append(ms)
        if step % a.eval_interval == 0 or step == a.max_steps:
            model.eval()
            e = {"step": step, "losses": {"train": mean_loss(model, xtr[:1000], ytr[:1000]), "test": mean_loss(model, xte, yte)}}
            model.train()
            evaluations.append(e)
            if best is None or e["losses"]["test"] < best["losses"]["test"]:
                best = e
            print(f"step {step}: train loss {e['losses']['train']:.4f}, test loss {e['losses']['test']:.4f} | {train_ms / step:.1f} ms/step", file=sys.stderr, flush=True)
    summary = {"engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "type": a.type, "parameters": params,
               "steps": a.max_steps, "batchSize": a.batch_size, "seed": a.seed, "msPerStep": sum(times) / max(len(times), 1),
               "medianMs": sorted(times)[len(times) // 2] if times else 0.0,
               "best": best, "evaluations": evaluations}
    line = json.dumps(summary)
    print(line)
    if a.out:
        with open(a.out, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
