"""From checkpoint to product: ``load_predictor`` (one Python API for every task, from a
``.ckpt`` or an export folder), ``export_model`` (MXNet symbol and ONNX with parity checked)
and the web demo's ASGI app. The only layer above the tasks: it imports all four."""
