"""Train the framer that frames detected faces as FER2013 does. `python train_framer.py
--help` lists the flags."""

from ferkit.cli import headless
from ferkit.deploy.framer_cli import main

if __name__ == "__main__":
    headless()
    main()
