"""PyTorch twin of examples/shakespeare.ts: nanoGPT's model and training loop, same data,
configuration and schedule, so that losses and times compare one to one.

    /usr/bin/python3 bench/pytorch/shakespeare_gpt.py [--max-iters 2000] [--threads 2]

Differences from nanoGPT's train.py, each to match our run: the warm-up is lr·(k+1)/W (our
cosineWithWarmup), GELU is the tanh approximation (our gelu op), float64 (our engine's
only dtype; --dtype float32 for nanoGPT's). Prints one line per evaluation and a JSON
summary last. Exits with a message when torch is not installed.
"""
import argparse, json, math, sys, time

try:
    import torch
    import torch.nn as nn
    from torch.nn import functional as F
except ImportError:
    print("skipped: torch is not installed (apt-get install -y python3-torch libopenblas0-pthread)")
    sys.exit(0)

p = argparse.ArgumentParser()
p.add_argument("--input-file", default="data/shakespeare.txt")
p.add_argument("--n-layer", type=int, default=4)
p.add_argument("--n-head", type=int, default=4)
p.add_argument("--n-embd", type=int, default=128)
p.add_argument("--block-size", type=int, default=64)
p.add_argument("--batch-size", type=int, default=12)
p.add_argument("--max-iters", type=int, default=2000)
p.add_argument("--lr-decay-iters", type=int, default=2000)
p.add_argument("--learning-rate", type=float, default=1e-3)
p.add_argument("--min-lr", type=float, default=1e-4)
p.add_argument("--warmup-iters", type=int, default=100)
p.add_argument("--weight-decay", type=float, default=0.1)
p.add_argument("--beta2", type=float, default=0.99)
p.add_argument("--grad-clip", type=float, default=1.0)
p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--eval-interval", type=int, default=250)
p.add_argument("--eval-iters", type=int, default=20)
p.add_argument("--seed", type=int, default=1337)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--dtype", default="float64")
args = p.parse_args()
torch.manual_seed(args.seed)
torch.set_num_threads(args.threads)
torch.set_default_dtype(getattr(torch, args.dtype))

# newline="": the text exactly as stored (Python would otherwise turn "\r\n" into "\n", and the
# twin would train on other characters than ours, as on Gutenberg's CRLF files).
text = open(args.input_file, encoding="utf-8", newline="").read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(0.9 * len(data))
splits = {"train": data[:n], "val": data[n:]}


class CausalSelfAttention(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)
        s.c_proj = nn.Linear(c.n_embd, c.n_embd)
        s.attn_dropout = nn.Dropout(c.dropout)
        s.resid_dropout = nn.Dropout(c.dropout)
        s.n_head = c.n_head
        s.register_buffer("bias", torch.tril(torch.ones(c.block_size, c.block_size))
                          .view(1, 1, c.block_size, c.block_size))

    def forward(s, x):
        B, T, C = x.size()
        q, k, v = s.c_attn(x).split(C, dim=2)
        k = k.view(B, T, s.n_head, C // s.n_head).transpose(1, 2)
        q = q.view(B, T, s.n_head, C // s.n_head).transpose(1, 2)
        v = v.view(B, T, s.n_head, C // s.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(s.bias[:, :, :T, :T] == 0, float("-inf"))
        att = s.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return s.resid_dropout(s.c_proj(y))


class Block(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.ln_1 = nn.LayerNorm(c.n_embd)
        s.attn = CausalSelfAttention(c)
        s.ln_2 = nn.LayerNorm(c.n_embd)
        s.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        s.c_proj = nn.Linear(4 * c.n_embd, c.n_embd)
        s.dropout = nn.Dropout(c.dropout)

    def forward(s, x):
        x = x + s.attn(s.ln_1(x))
        return x + s.dropout(s.c_proj(F.gelu(s.c_fc(s.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.c = c
        s.wte = nn.Embedding(c.vocab_size, c.n_embd)
        s.wpe = nn.Embedding(c.block_size, c.n_embd)
        s.drop = nn.Dropout(c.dropout)
        s.h = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        s.ln_f = nn.LayerNorm(c.n_embd)
        s.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        s.wte.weight = s.lm_head.weight
        s.apply(s._init_weights)
        for pn, p in s.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    def _init_weights(s, m):
        if isinstance(m, nn.Linear):
            torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            torch.nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(s, idx, targets):
        T = idx.size(1)
        x = s.drop(s.wte(idx) + s.wpe(torch.arange(T)))
        for block in s.h:
            x = block(x)
        logits = s.lm_head(s.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


class Config:
    vocab_size = len(chars)
    block_size = args.block_size
    n_layer = args.n_layer
    n_head = args.n_head
    n_embd = args.n_embd
    dropout = args.dropout


model = GPT(Config)
params = [p for p in model.parameters() if p.requires_grad]
decay = [p for p in params if p.dim() >= 2]
no_decay = [p for p in params if p.dim() < 2]
optimizer = torch.optim.AdamW(
    [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
    lr=args.learning_rate, betas=(0.9, args.beta2), eps=1e-8)


def get_lr(k):  # our cosineWithWarmup
    if k < args.warmup_iters:
        return args.learning_rate * (k + 1) / args.warmup_iters
    if k >= args.lr_decay_iters:
        return args.min_lr
    ratio = (k - args.warmup_iters) / (args.lr_decay_iters - args.warmup_iters)
    return args.min_lr + (args.learning_rate - args.min_lr) * (1 + math.cos(math.pi * ratio)) / 2


def get_batch(split):
    d = splits[split]
    ix = torch.randint(len(d) - args.block_size, (args.batch_size,))
    x = torch.stack([d[i:i + args.block_size] for i in ix])
    y = torch.stack([d[i + 1:i + 1 + args.block_size] for i in ix])
    return x, y


@torch.no_grad()
def estimate_loss():
    model.eval()
    out = {}
    for split in ("train", "val"):
        out[split] = sum(model(*get_batch(split)).item() for _ in range(args.eval_iters)) / args.eval_iters
    model.train()
    return out


n_params = sum(p.numel() for p in params)
print(f"torch {torch.__version__}, {args.threads} threads, {args.dtype}, {n_params} parameters", flush=True)
evals, step_ms = [], []
started = time.perf_counter()
for it in range(args.max_iters + 1):
    if it % args.eval_interval == 0 or it == args.max_iters:
        losses = estimate_loss()
        seconds = time.perf_counter() - started
        evals.append({"iter": it, **losses, "seconds": seconds})
        print(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f} ({seconds:.0f} s)", flush=True)
    if it == args.max_iters:
        break
    t0 = time.perf_counter()
    for g in optimizer.param_groups:
        g["lr"] = get_lr(it)
    loss = model(*get_batch("train"))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
    optimizer.step()
    step_ms.append(1000 * (time.perf_counter() - t0))
total = time.perf_counter() - started
step_ms.sort()
print(json.dumps({
    "engine": "pytorch", "torch": torch.__version__, "threads": args.threads, "dtype": args.dtype,
    "parameters": n_params, "iters": args.max_iters, "seconds": round(total, 1),
    "median_step_ms": round(step_ms[len(step_ms) // 2], 1) if step_ms else None,
    "best_val": min(e["val"] for e in evals), "evals": evals,
}))
