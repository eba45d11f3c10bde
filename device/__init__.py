"""The device runtime: camera/video/image sources → int8 TFLite upscaler → live view or files.

Never imports TensorFlow: it runs on numpy, Pillow and ai-edge-litert (or tflite-runtime).
"""
