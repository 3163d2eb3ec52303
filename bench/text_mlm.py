#!/usr/bin/env python3
"""ftrun against transformers on the same masked-language-model pretraining, in one go; prints both speeds and the
ratio.

    .venv/bin/python bench/text_mlm.py [--threads N]

The work: the text quickstart's BERT (2 layers, hidden size 128, 4 heads, feed-forward 512, 64 tokens, a vocabulary
of 4,000), batches of 32 texts, BERT's 15 % masking, AdamW (lr 1e-3), fp32, CPU. ftrun runs bench/text_mlm.toml
(fortunes of ten categories) through its binary and reports texts/s per epoch in its store. The transformers side
is what a researcher's script does: BertForMaskedLM with DataCollatorForLanguageModeling's masks, forward, loss,
backward, step, read the loss, on as many texts of 64 tokens. Both: the mean of the epochs after the first.
transformers scores every position (BertForMaskedLM's head runs on all 64 tokens); ftrun's masked_lm task sends only
the masked ones to its head, which is part of what is measured: --masked-only gives the transformers side the same
saving, to see how much of the ratio it is.
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

import torch
from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling, PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, LENGTH, BATCH, TEXTS, EPOCHS = 4000, 64, 32, 4096, 3


def ftrun_speed(store, threads):
    subprocess.run([os.path.join(ROOT, os.environ.get("FTRUN_BUILD", "build"), "ftrun"),
                    os.path.join(ROOT, "bench", "text_mlm.toml"), "--set", f"experiment.threads={threads}",
                    "--store", store], check=True, stdout=subprocess.DEVNULL)
    rows = sqlite3.connect(store).execute(
        "SELECT images_per_second FROM epoch_metrics WHERE epoch > 1 ORDER BY epoch").fetchall()
    return sum(r[0] for r in rows) / len(rows)


def transformers_speed(threads, masked_only=False):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    config = BertConfig(vocab_size=VOCAB, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=512, max_position_embeddings=LENGTH)
    model = BertForMaskedLM(config)
    # A tokenizer only for the collator's special tokens: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4.
    from tokenizers import Tokenizer, models
    backend = Tokenizer(models.WordLevel({t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])},
                                         unk_token="[UNK]"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, return_tensors="pt")
    ids = torch.randint(5, VOCAB, (TEXTS, LENGTH))
    ids[:, 0], ids[:, -1] = 2, 3
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    model.train()
    speeds = []
    for epoch in range(EPOCHS):
        order = torch.randperm(TEXTS)
        start = time.perf_counter()
        for first in range(0, TEXTS, BATCH):
            batch = collator([{"input_ids": row} for row in ids[order[first:first + BATCH]]])
            mask = torch.ones_like(batch["input_ids"])
            if masked_only:  # the head on the masked positions only, as ftrun's masked_lm does
                hidden = model.bert(input_ids=batch["input_ids"], attention_mask=mask).last_hidden_state
                scored = batch["labels"] != -100
                loss = torch.nn.functional.cross_entropy(model.cls(hidden[scored]), batch["labels"][scored])
            else:
                loss = model(input_ids=batch["input_ids"], attention_mask=mask, labels=batch["labels"]).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
        if epoch > 0:
            speeds.append(TEXTS / (time.perf_counter() - start))
    return sum(speeds) / len(speeds)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--masked-only", action="store_true",
                        help="the transformers side also runs its head on the masked positions only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        ftrun = ftrun_speed(os.path.join(work, "bench.db"), args.threads)
    hf = transformers_speed(args.threads, args.masked_only)
    import transformers
    print(f"BERT masked LM, 2 layers, hidden 128, {LENGTH} tokens, batch {BATCH}, AdamW, fp32, cpu, {args.threads} "
          f"threads, torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"  ftrun         {ftrun:8.1f} texts/s")
    print(f"  transformers  {hf:8.1f} texts/s" + ("  (head on masked positions only)" if args.masked_only else ""))
    print(f"  ratio         {ftrun / hf:8.2f}x  (ftrun / transformers)")


if __name__ == "__main__":
    sys.exit(main())
