"""The models in a browser: a static page that finds faces and reads their expressions
on the user's own machine (ONNX Runtime Web), from the webcam or a photo."""
