// libpcap's classic BPF validator and interpreter, for the translator harness.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Whether libpcap's validator accepts `count` instructions at `code`.
bool ClassicValid(const void* code, size_t count);
// What libpcap's interpreter returns for `packet` (the whole packet captured), run as
// the kernel runs a socket filter on a frame with no VLAN tag in its metadata.
unsigned ClassicVerdict(const void* code, const uint8_t* packet, size_t length);
