"""Reference for the bert parity test: HuggingFace transformers' BertModel on one batch, in eval mode and after one
training step.

    python bert_parity.py OUT_DIR

Writes OUT_DIR/config.json and OUT_DIR/weights.safetensors (save_pretrained's names, a small random configuration
without dropout so that the training step is deterministic) and OUT_DIR/reference.safetensors: the token ids and
attention mask (the second text padded), the eval-mode last hidden state and pooler output, a probe, and every
parameter after one SGD step (lr 0.1) on the loss sum(pooler_output * probe).
"""
import sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

out = sys.argv[1]
torch.manual_seed(0)
torch.set_num_threads(1)
config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                    max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
model = BertModel(config)
with torch.no_grad():  # LayerNorm starts at 1 and 0: randomise it so that the test sees its parameters
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.weight.uniform_(0.5, 1.5)
            module.bias.uniform_(-0.1, 0.1)
config.to_json_file(f"{out}/config.json")
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/weights.safetensors")

ids = torch.randint(5, 100, (2, 12))
ids[:, 0] = 2
mask = torch.ones_like(ids)
mask[1, 7:] = 0
ids[1, 7:] = 0
ids[0, -1] = ids[1, 6] = 3
model.eval()
with torch.no_grad():
    result = model(input_ids=ids, attention_mask=mask)
probe = torch.randn(2, 32)
model.train()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
(model(input_ids=ids, attention_mask=mask).pooler_output * probe).sum().backward()
optimizer.step()
tensors = {"input_ids": ids, "attention_mask": mask, "probe": probe,
           "hidden_eval": result.last_hidden_state, "pooled_eval": result.pooler_output}
tensors.update({"updated." + k: v.detach().clone() for k, v in model.state_dict().items()})
save_file({k: v.contiguous() for k, v in tensors.items()}, f"{out}/reference.safetensors")
