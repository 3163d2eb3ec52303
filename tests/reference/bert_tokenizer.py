"""Reference for the WordPiece test: HuggingFace transformers' BertTokenizer on every document ftrun read.

    python bert_tokenizer.py DIR

Reads DIR/documents.json (a list of texts), trains a WordPiece vocabulary of 3000 tokens on them with HuggingFace's
tokenizers library (so that the ids exercise many "##" pieces) and writes it to DIR/vocab.txt, then writes
DIR/ids.json: for each document, BertTokenizer(vocab)(text, truncation=True, max_length=64,
padding="max_length")'s input_ids and attention_mask, and its ids without special tokens or truncation.
"""
import json
import sys

from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer

folder = sys.argv[1]
with open(f"{folder}/documents.json", encoding="utf-8") as f:
    documents = json.load(f)
trainer = BertWordPieceTokenizer(lowercase=True)
trainer.train_from_iterator(documents, vocab_size=3000, min_frequency=2, show_progress=False)
vocab = trainer.get_vocab()
with open(f"{folder}/vocab.txt", "w", encoding="utf-8") as f:
    for token, _ in sorted(vocab.items(), key=lambda item: item[1]):
        f.write(token + "\n")

tokenizer = BertTokenizer(vocab=f"{folder}/vocab.txt")
result = []
for text in documents:
    padded = tokenizer(text, truncation=True, max_length=64, padding="max_length")
    plain = tokenizer(text, add_special_tokens=False)["input_ids"]
    result.append({"input_ids": padded["input_ids"], "attention_mask": padded["attention_mask"], "tokens": plain})
with open(f"{folder}/ids.json", "w", encoding="utf-8") as f:
    json.dump(result, f)
