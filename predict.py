"""Write a Kaggle submission (id,label) for the test faces. See `python predict.py --help`."""

from ferkit.cli import headless
from ferkit.deploy.predict_cli import predict_main

if __name__ == "__main__":
    headless()
    predict_main()
