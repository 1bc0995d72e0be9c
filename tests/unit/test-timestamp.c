/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/timestamp.c: systemd.time(7)-style parsing and formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "timestamp.h"

#define SEC(x) ((uint64_t) (x) * USEC_PER_SEC)
/* 2025-01-01 00:00:00 UTC */
#define NEWYEAR_2025 UINT64_C(1735689600)
/* A fixed "now": 2025-01-01 11:00:00 UTC. */
#define FIXED_NOW SEC(NEWYEAR_2025 + 11 * 3600)

static void set_tz(const char *tz) {
        assert_int_equal(setenv("TZ", tz, 1), 0);
        tzset();
}

static int setup_utc(void **state) {
        if (setenv("TZ", "UTC", 1) < 0)
                return -1;
        tzset();
        return 0;
}

static void expect_ts(const char *s, uint64_t now, uint64_t expected) {
        uint64_t v = 0xdeadbeef;
        int r = timestamp_parse(s, now, &v);

        if (r != 0)
                fail_msg("timestamp_parse(\"%s\") returned %d, expected %llu", s, r, (unsigned long long) expected);
        if (v != expected)
                fail_msg("timestamp_parse(\"%s\") gave %llu, expected %llu", s, (unsigned long long) v,
                         (unsigned long long) expected);
}

static void expect_ts_fail(const char *s, uint64_t now) {
        uint64_t v = 0xdeadbeef;
        int r = timestamp_parse(s, now, &v);

        if (r >= 0)
                fail_msg("timestamp_parse(\"%s\") succeeded with %llu, expected an error", s, (unsigned long long) v);
        assert_true(v == 0xdeadbeef);
}

static void expect_span(const char *s, uint64_t expected) {
        uint64_t v = 0xdeadbeef;
        int r = timespan_parse(s, &v);

        if (r != 0)
                fail_msg("timespan_parse(\"%s\") returned %d, expected %llu", s, r, (unsigned long long) expected);
        if (v != expected)
                fail_msg("timespan_parse(\"%s\") gave %llu, expected %llu", s, (unsigned long long) v,
                         (unsigned long long) expected);
}

static void expect_span_fail(const char *s) {
        uint64_t v = 0xdeadbeef;
        int r = timespan_parse(s, &v);

        if (r >= 0)
                fail_msg("timespan_parse(\"%s\") succeeded with %llu, expected an error", s, (unsigned long long) v);
        assert_true(v == 0xdeadbeef);
}

static void test_epoch(void **state) {
        expect_ts("@1735689600", FIXED_NOW, UINT64_C(1735689600000000));
        expect_ts("@0", FIXED_NOW, 0);
        expect_ts("@1735689600.25", FIXED_NOW, UINT64_C(1735689600250000));
        expect_ts_fail("@", FIXED_NOW);
        expect_ts_fail("@abc", FIXED_NOW);
        expect_ts_fail("@-5", FIXED_NOW);
        expect_ts_fail("@ 5", FIXED_NOW);
}

static void test_calendar_utc(void **state) {
        expect_ts("2025-01-01 00:00:00 UTC", FIXED_NOW, SEC(NEWYEAR_2025));
        expect_ts("2025-01-01 00:00 UTC", FIXED_NOW, SEC(NEWYEAR_2025));
        expect_ts("2025-01-01 12:34:56 UTC", FIXED_NOW, SEC(NEWYEAR_2025 + 12 * 3600 + 34 * 60 + 56));
        expect_ts("2025-01-01 00:00:00.5 UTC", FIXED_NOW, SEC(NEWYEAR_2025) + 500000);
        expect_ts("2025-01-01T00:00:00Z", FIXED_NOW, SEC(NEWYEAR_2025));
        /* Date only, midnight UTC. */
        expect_ts("2035-01-01 UTC", FIXED_NOW, UINT64_C(2051222400000000));
        expect_ts("2025-01-01 UTC", FIXED_NOW, SEC(NEWYEAR_2025));
        expect_ts("1970-01-01 00:00:00 UTC", FIXED_NOW, 0);
}

static void test_calendar_local_utc(void **state) {
        /* setup put TZ=UTC: local forms are UTC. */
        expect_ts("2025-01-01 00:00:00", FIXED_NOW, SEC(NEWYEAR_2025));
        expect_ts("2025-01-01", FIXED_NOW, SEC(NEWYEAR_2025));
        expect_ts("2025-06-15 08:30", FIXED_NOW, UINT64_C(1749976200000000));
}

static void test_calendar_local_berlin(void **state) {
        if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) < 0) {
                print_message("# /usr/share/zoneinfo/Europe/Berlin missing, cannot test local time zones\n");
                skip();
        }
        set_tz("Europe/Berlin");
        /* CET = UTC+1 in winter. */
        expect_ts("2025-01-01 01:00:00", FIXED_NOW, SEC(NEWYEAR_2025));
        expect_ts("2025-01-01", FIXED_NOW, SEC(NEWYEAR_2025 - 3600));
        /* CEST = UTC+2 in summer. */
        expect_ts("2025-06-15 10:30", FIXED_NOW, UINT64_C(1749976200000000));
        /* An explicit UTC suffix ignores TZ. */
        expect_ts("2025-01-01 00:00:00 UTC", FIXED_NOW, SEC(NEWYEAR_2025));
        set_tz("UTC");
}

static void test_time_of_day(void **state) {
        /* "HH:MM[:SS]" is today at that time (documented in timestamp.h). */
        expect_ts("12:30", FIXED_NOW, SEC(NEWYEAR_2025 + 12 * 3600 + 30 * 60));
        expect_ts("12:30:15", FIXED_NOW, SEC(NEWYEAR_2025 + 12 * 3600 + 30 * 60 + 15));
}

static void test_words(void **state) {
        expect_ts("now", FIXED_NOW, FIXED_NOW);
        expect_ts("today", FIXED_NOW, SEC(NEWYEAR_2025));
        expect_ts("yesterday", FIXED_NOW, SEC(NEWYEAR_2025 - 86400));
        expect_ts("tomorrow", FIXED_NOW, SEC(NEWYEAR_2025 + 86400));
        expect_ts("infinity", FIXED_NOW, USEC_INFINITY);
        expect_ts("infinity", 0, UINT64_MAX);
}

static void test_relative(void **state) {
        expect_ts("+5min", FIXED_NOW, FIXED_NOW + SEC(300));
        expect_ts("+0", FIXED_NOW, FIXED_NOW);
        expect_ts("-1h", FIXED_NOW, FIXED_NOW - SEC(3600));
        expect_ts("1h 30min ago", FIXED_NOW, FIXED_NOW - SEC(5400));
        expect_ts("5s ago", FIXED_NOW, FIXED_NOW - SEC(5));
        expect_ts("+1d 2h", FIXED_NOW, FIXED_NOW + SEC(86400 + 7200));
        /* Before the epoch is out of range. */
        expect_ts_fail("-1h", SEC(60));
        expect_ts_fail("1h ago", SEC(60));
        /* Past the end of time. */
        expect_ts_fail("+1y", UINT64_MAX - 10);
}

static void test_rejects(void **state) {
        expect_ts_fail("", FIXED_NOW);
        expect_ts_fail("abc", FIXED_NOW);
        expect_ts_fail("5 parsecs", FIXED_NOW);
        expect_ts_fail("+", FIXED_NOW);
        expect_ts_fail("-", FIXED_NOW);
        expect_ts_fail("+abc", FIXED_NOW);
        expect_ts_fail(" ago", FIXED_NOW);
        expect_ts_fail("xyz ago", FIXED_NOW);
        expect_ts_fail("2025-01-01 junk", FIXED_NOW);
        expect_ts_fail("2025-01-01 00:00:00 CET-ish", FIXED_NOW);
        expect_ts_fail("1969-12-31 23:59:59 UTC", FIXED_NOW);
        expect_ts_fail("UTC", FIXED_NOW);
        expect_ts_fail("Z", FIXED_NOW);
}

static void test_spans(void **state) {
        expect_span("100ms", 100000);
        expect_span("2d", SEC(2 * 86400));
        expect_span("1w", SEC(7 * 86400));
        expect_span("1.5s", 1500000);
        expect_span("5", SEC(5));
        expect_span("5min", SEC(300));
        expect_span("5m", SEC(300));
        expect_span("1h 30min", SEC(5400));
        expect_span("1h30min", SEC(5400));
        expect_span("  2 h  ", SEC(7200));
        expect_span("1y", SEC(31557600));
        expect_span("1M", SEC(2629800));
        expect_span("3 months", SEC(3 * 2629800));
        expect_span("10us", 10);
        expect_span("10usec", 10);
        expect_span("10µs", 10);
        expect_span("7msec", 7000);
        expect_span("1.05s", 1050000);
        expect_span("0.5h", SEC(1800));
        expect_span("2 seconds", SEC(2));
        expect_span("1 week 1 day", SEC(8 * 86400));
        expect_span("0", 0);
        /* A bare number is seconds, also after a unit. */
        expect_span("5s 3", SEC(8));
}

static void test_span_fraction_precision(void **state) {
        /* 0.1234567 years = 1234567 * 3155760 µs exactly (1 y = 31557600 s). */
        expect_span("0.1234567y", UINT64_C(1234567) * UINT64_C(3155760));
        /* 0.98765432 weeks = 98765432 * 6048 µs exactly (1 w = 604800 s). */
        expect_span("0.98765432w", UINT64_C(98765432) * UINT64_C(6048));
        /* Short fractions work. */
        expect_span("0.5y", SEC(15778800));
}

static void test_span_rejects(void **state) {
        expect_span_fail("");
        expect_span_fail("   ");
        expect_span_fail("abc");
        expect_span_fail("5 parsecs");
        expect_span_fail("5x");
        expect_span_fail("-5s");
        expect_span_fail("5secs");
        expect_span_fail("99999999999999999999");
        expect_span_fail("999999999999y");
        /* The fraction pushes past 2^64 - 1 (once wrapped to small values or "infinity"). */
        expect_span_fail("18446744073709.999999");
        expect_span_fail("18446744073709.551615");
        expect_span_fail("5124095576.9h");
}

static void test_format(void **state) {
        char buf[64];

        timestamp_format(0, buf, sizeof(buf));
        assert_string_equal(buf, "1970-01-01 00:00:00 UTC");
        timestamp_format(UINT64_C(2051222400000000), buf, sizeof(buf));
        assert_string_equal(buf, "2035-01-01 00:00:00 UTC");
        timestamp_format(UINT64_C(1735689600999999), buf, sizeof(buf));
        assert_string_equal(buf, "2025-01-01 00:00:00 UTC");
        timestamp_format(USEC_INFINITY, buf, sizeof(buf));
        assert_string_equal(buf, "infinity");
}

static void test_format_ignores_tz(void **state) {
        char buf[64];

        if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) < 0)
                skip();
        set_tz("Europe/Berlin");
        timestamp_format(UINT64_C(2051222400000000), buf, sizeof(buf));
        set_tz("UTC");
        assert_string_equal(buf, "2035-01-01 00:00:00 UTC");
}

static void test_format_parse_roundtrip(void **state) {
        static const uint64_t values[] = { 0, SEC(NEWYEAR_2025), SEC(2051222400), SEC(4102444799) };
        char buf[64];

        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                timestamp_format(values[i], buf, sizeof(buf));
                expect_ts(buf, FIXED_NOW, values[i]);
        }
}

static void test_now_usec(void **state) {
        uint64_t a = now_usec();
        time_t t = time(NULL);

        /* Within a few seconds of time(). */
        assert_true(a / USEC_PER_SEC + 5 >= (uint64_t) t);
        assert_true(a / USEC_PER_SEC <= (uint64_t) t + 5);
        assert_true(now_usec() >= a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_epoch, setup_utc),
                cmocka_unit_test_setup(test_calendar_utc, setup_utc),
                cmocka_unit_test_setup(test_calendar_local_utc, setup_utc),
                cmocka_unit_test_setup(test_calendar_local_berlin, setup_utc),
                cmocka_unit_test_setup(test_time_of_day, setup_utc),
                cmocka_unit_test_setup(test_words, setup_utc),
                cmocka_unit_test_setup(test_relative, setup_utc),
                cmocka_unit_test_setup(test_rejects, setup_utc),
                cmocka_unit_test_setup(test_spans, setup_utc),
                cmocka_unit_test_setup(test_span_fraction_precision, setup_utc),
                cmocka_unit_test_setup(test_span_rejects, setup_utc),
                cmocka_unit_test_setup(test_format, setup_utc),
                cmocka_unit_test_setup(test_format_ignores_tz, setup_utc),
                cmocka_unit_test_setup(test_format_parse_roundtrip, setup_utc),
                cmocka_unit_test_setup(test_now_usec, setup_utc),
        };

        return cmocka_run_group_tests_name("timestamp", tests, NULL, NULL);
}
