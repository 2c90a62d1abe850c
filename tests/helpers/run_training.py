"""Run a training script's main() in a fresh process: ``run_training.py MODULE [--crash-at-epoch
N] ARGS...``; with ``--crash-at-epoch N`` epoch N raises KeyboardInterrupt (an interrupted run,
for the resume tests)."""

import sys

from script_loader import load_script

module = load_script(sys.argv[1])
argv = sys.argv[2:]
if argv[:1] == ["--crash-at-epoch"]:
    crash_epoch, argv = int(argv[1]), argv[2:]
    original = module.train_one_epoch

    def crashing(*args, **kwargs):
        if args[5] == crash_epoch:  # train_one_epoch(net, loader, loss, trainer, ctx, epoch, ...)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    module.train_one_epoch = crashing
sys.exit(module.run(argv))  # one-line errors and exit code 2, as on the command line
