#!/usr/bin/python3
"""Super-resolve a Raspberry Pi camera's frames ×2 and save the last one.

picamera2's default video configuration gives XBGR8888 frames (R, G, B, 255 in memory);
`format=` tells the upscaler so, and the result comes back in the same format.

    python examples/picamera2_capture.py      # until Ctrl-C; EXAMPLE_FRAMES=N stops after N
"""

import os
import time

from picamera2 import Picamera2
from PIL import Image

from espcn_edge import Upscaler

up = Upscaler(scale=2)  # the shipped ×2 model, its layout chosen for this board
print(f"{up.model_path.name}, {up.variant} layout")

picam2 = Picamera2()
picam2.configure(picam2.create_video_configuration(main={"size": (320, 240)}))
picam2.start()

frames = int(os.environ.get("EXAMPLE_FRAMES", "0"))  # 0: until Ctrl-C
count, start = 0, time.monotonic()
try:
    while not frames or count < frames:
        big = up.upscale(picam2.capture_array(), format="XBGR8888")  # 640×480×4
        count += 1
except KeyboardInterrupt:
    pass
finally:
    picam2.stop()

if count:
    Image.fromarray(big[..., :3]).save("picamera2_x2.png")
    print(f"{count} frames, {count / (time.monotonic() - start):.1f} fps; last: picamera2_x2.png")
