"""mer_meal: the Model Executor Abstraction Layer, an Open Inference Protocol worker."""

__version__ = "0.1.0"
