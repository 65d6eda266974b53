"""`make bench`: MER measured side by side with bare onnxruntime and a plain FastAPI server."""
