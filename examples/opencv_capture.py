#!/usr/bin/python3
"""Super-resolve an OpenCV capture ×2 (a webcam, or a video file) and save the last frame.

OpenCV gives B, G, R frames: `format="BGR"` says so, and the result is B, G, R too.

    python examples/opencv_capture.py [CAMERA_NUMBER | VIDEO_FILE]   # default: camera 0
"""

import sys

import cv2

from espcn_edge import Upscaler

source = sys.argv[1] if len(sys.argv) > 1 else "0"
cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
if not cap.isOpened():
    sys.exit(f"cannot open {source}")

up = Upscaler(scale=2)
count, big = 0, None
try:
    while True:
        ok, frame = cap.read()
        if not ok:  # the end of a video file
            break
        big = up.upscale(frame, format="BGR")
        count += 1
except KeyboardInterrupt:
    pass
finally:
    cap.release()

if big is not None:
    cv2.imwrite("opencv_x2.png", big)
    print(f"{count} frames; last: opencv_x2.png ({big.shape[1]}×{big.shape[0]})")
