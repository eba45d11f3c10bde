"""Test doubles for the device runtime: a picamera2 look-alike and a tiny real int8 model."""
