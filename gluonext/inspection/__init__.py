"""What a dataset holds, drawn and counted before training: tools/inspect_dataset.py."""
