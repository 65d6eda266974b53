-- The local server, and the configurations of the demo models that ship with MER.
-- Their ONNX files and weight vectors are imported from models/ by `mer exec "model import ..."`
-- (make demo does it): a configuration without an artifact answers "not imported yet".

CREATE server:local CONTENT {
    name: 'local',
    kind: 'local',
    worker_url: 'http://127.0.0.1:8701',
    labels: ['default'],
    has_gpu: false,
    enabled: true
};

CREATE model:iris CONTENT {
    name: 'iris',
    description: 'Iris species from 4 flower measurements (logistic regression).',
    server: 'local',
    max_batch_size: 64,
    max_queue_delay_us: 500,
    device: 'cpu'
};

CREATE model:digits CONTENT {
    name: 'digits',
    description: 'Handwritten digit 0-9 from an 8x8 image (MLP); weight vectors v1 and v2.',
    server: 'local',
    default_weights: 'v1',
    max_batch_size: 64,
    max_queue_delay_us: 500,
    device: 'cpu'
};
