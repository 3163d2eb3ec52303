"""Reference for test_resnet_parity.cpp: torchvision's ResNet on one input, in eval mode and after one SGD step.

    python resnet_parity.py ARCH OUT_DIR

Writes OUT_DIR/weights.safetensors (the starting weights, torchvision names, BatchNorm statistics and affine
parameters randomised so eval mode is a real test) and OUT_DIR/reference.safetensors: the input, a probe matrix
R, the eval-mode features (the output before fc), and every parameter and buffer after one train-mode SGD step
(lr 0.1) on the loss sum(features * R).
"""
import sys

import torch
import torchvision
from safetensors.torch import save_file

arch, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
torch.set_num_threads(1)
model = torchvision.models.get_model(arch, weights=None)
with torch.no_grad():
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.uniform_(0.5, 1.5)
            module.bias.uniform_(-0.1, 0.1)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/weights.safetensors")

model.fc = torch.nn.Identity()
x = torch.randn(2, 3, 64, 64)
model.eval()
with torch.no_grad():
    features = model(x)
probe = torch.randn_like(features)
model.train()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
(model(x) * probe).sum().backward()
optimizer.step()
reference = {"input": x, "probe": probe, "features_eval": features}
reference.update({"updated." + k: v.detach().contiguous() for k, v in model.state_dict().items()})
save_file(reference, f"{out}/reference.safetensors")
