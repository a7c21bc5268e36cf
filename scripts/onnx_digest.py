"""Name-independent digest of an ONNX graph: weights (as values) and the operator sequence.

tf2onnx gives initializers random names, so a converted file's sha256 differs on every run while
its content does not. Setup checks a converted model against the manifest's `content_sha256`,
which this script computes. Usage: python onnx_digest.py MODEL.onnx
"""
import hashlib
import sys

import onnx
from onnx import numpy_helper


def digest(path: str) -> str:
    model = onnx.load(path)
    blobs = []
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        blobs.append(hashlib.sha256(str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes()).digest())
    h = hashlib.sha256()
    for b in sorted(blobs):
        h.update(b)
    for node in model.graph.node:
        h.update(node.op_type.encode() + b";")
    for io in list(model.graph.input) + list(model.graph.output):
        h.update(io.name.encode() + b";")
    return h.hexdigest()


if __name__ == "__main__":
    print(digest(sys.argv[1]))
