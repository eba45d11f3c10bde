"""espcn_edge.machine: the CPU model and int8 SIMD features read from /proc/cpuinfo text."""

from __future__ import annotations

from espcn_edge.machine import cpu_info, describe, has_int8_dot_product

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model\t\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx avx2 fma bmi2
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 avx avx2 fma bmi2
"""

XEON = "model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512bw avx512_vnni\n"

PI4 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd08

Hardware\t: BCM2835
Revision\t: c03114
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""

PI5 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm \
lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd0b

Revision\t: d04170
Model\t\t: Raspberry Pi 5 Model B Rev 1.0
"""


def test_x86_model_and_features():
    info = cpu_info(X86)
    assert info["model"] == "AMD EPYC" and info["simd"] == ["avx2"]
    assert cpu_info(XEON)["simd"] == ["avx512_vnni", "avx512f", "avx2"]
    assert info["cores"] >= 1
    assert not has_int8_dot_product(info) and has_int8_dot_product(cpu_info(XEON))


def test_pi4_has_no_dot_product():
    info = cpu_info(PI4)
    assert info["model"] == "Raspberry Pi 4 Model B Rev 1.4 / Cortex-A72"
    assert info["simd"] == ["asimd"]
    assert not has_int8_dot_product(info)


def test_pi5_has_dot_product():
    info = cpu_info(PI5)
    assert info["model"] == "Raspberry Pi 5 Model B Rev 1.0 / Cortex-A76"
    assert info["simd"] == ["asimddp", "asimd"]
    assert has_int8_dot_product(info)
    assert describe(info).startswith("Raspberry Pi 5 Model B Rev 1.0 / Cortex-A76 (")
    assert describe(info).endswith(" cores, asimddp, asimd")


def test_describe_says_when_no_feature_was_found():
    assert describe(cpu_info("model name\t: old\nflags\t\t: fpu sse2\n")).endswith(
        "no int8 SIMD extensions found"
    )
