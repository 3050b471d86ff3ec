#!/usr/bin/python3
"""Draws web/sample.jpg: the studio's sample photo (a made-up landscape: sky,
sun, hills, a lake, a house and trees), ours, so nothing is borrowed. The
studio offers it to try without an upload, and the server paints it for
each model version's thumbnail (GET /models/{name}/thumbnail).
Run: /usr/bin/python3 tools/make_sample.py web/sample.jpg"""
import math
import random
import sys

from PIL import Image, ImageDraw, ImageFilter

W, H = 320, 224
rng = random.Random(7)
img = Image.new("RGB", (W, H))
px = img.load()
for y in range(H):
    t = y / (H * 0.55)
    for x in range(W):
        px[x, y] = (int(70 + 150 * t), int(120 + 100 * t), int(200 + 40 * t)) if t < 1 else (60, 112, 72)
d = ImageDraw.Draw(img)
d.ellipse((220, 28, 262, 70), fill=(255, 226, 140))
for k, (base, amp, col) in enumerate([(118, 24, (86, 110, 140)), (132, 16, (60, 112, 72))]):
    pts = [(x, base - amp * math.sin(x / (40 + 25 * k) + k) - 6 * math.sin(x / 11.0)) for x in range(0, W + 4, 4)]
    d.polygon([(0, H)] + pts + [(W, H)], fill=col)
d.rectangle((0, 150, W, H), fill=(52, 96, 150))
for y in range(150, H, 3):
    d.line((rng.randrange(0, W), y, rng.randrange(0, W), y), fill=(90, 140, 190), width=1)
d.rectangle((60, 112, 104, 146), fill=(200, 80, 60))
d.polygon([(54, 114), (82, 92), (110, 114)], fill=(110, 50, 40))
d.rectangle((76, 126, 88, 146), fill=(70, 40, 30))
for tx in (130, 148, 170, 280, 296):
    d.polygon([(tx, 146), (tx + 8, 112 - (tx % 7)), (tx + 16, 146)], fill=(30, 80, 40))
img = img.filter(ImageFilter.GaussianBlur(0.6))
img.save(sys.argv[1], "JPEG", quality=85, optimize=True)
