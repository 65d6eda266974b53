"""Readers of the file formats the registry stores: ONNX graphs and safetensors headers."""
