/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd.time(7)-style timestamps in µs since the epoch: "@EPOCH[.frac]",
 * "YYYY-MM-DD[ HH:MM[:SS[.frac]]][ UTC]", "HH:MM[:SS]", "now", "today",
 * "yesterday", "tomorrow", "+SPAN", "-SPAN", "SPAN ago", "infinity". */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define USEC_INFINITY UINT64_MAX
#define USEC_PER_SEC UINT64_C(1000000)

uint64_t now_usec(void);
/* Parses a span such as "5min", "1h 30min", "2d", "100ms"; bare numbers are seconds. */
int timespan_parse(const char *s, uint64_t *ret);
/* `now` anchors relative forms. */
int timestamp_parse(const char *s, uint64_t now, uint64_t *ret);
/* "2035-01-01 00:00:00 UTC" or "infinity". */
void timestamp_format(uint64_t usec, char *buf, size_t size);
