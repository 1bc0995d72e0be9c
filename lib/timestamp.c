/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "timestamp.h"

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static const struct {
        const char *suffix;
        uint64_t usec;
} units[] = {
        { "seconds", USEC_PER_SEC }, { "second", USEC_PER_SEC }, { "sec", USEC_PER_SEC }, { "s", USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC }, { "minute", 60 * USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC },
        { "months", 2629800 * USEC_PER_SEC }, { "month", 2629800 * USEC_PER_SEC }, { "M", 2629800 * USEC_PER_SEC },
        { "msec", 1000 }, { "ms", 1000 }, { "m", 60 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC }, { "hour", 3600 * USEC_PER_SEC }, { "hr", 3600 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC }, { "day", 86400 * USEC_PER_SEC }, { "d", 86400 * USEC_PER_SEC },
        { "weeks", 604800 * USEC_PER_SEC }, { "week", 604800 * USEC_PER_SEC }, { "w", 604800 * USEC_PER_SEC },
        { "years", 31557600 * USEC_PER_SEC }, { "year", 31557600 * USEC_PER_SEC }, { "y", 31557600 * USEC_PER_SEC },
        { "usec", 1 }, { "us", 1 }, { "µs", 1 },
};

int timespan_parse(const char *s, uint64_t *ret) {
        uint64_t total = 0;
        bool any = false;

        for (;;) {
                uint64_t unit = USEC_PER_SEC, whole, part;
                const char *frac = NULL;
                size_t ulen = 0;
                char *end;

                while (isspace((unsigned char) *s))
                        s++;
                if (*s == '\0')
                        break;
                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                errno = 0;
                whole = strtoull(s, &end, 10);
                if (errno != 0)
                        return -ERANGE;
                s = end;
                if (*s == '.')
                        for (frac = ++s; isdigit((unsigned char) *s); s++)
                                ;
                while (*s == ' ')
                        s++;
                for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                        size_t l = strlen(units[i].suffix);

                        if (strncmp(s, units[i].suffix, l) == 0 && !isalpha((unsigned char) s[l])) {
                                unit = units[i].usec;
                                ulen = l;
                                break;
                        }
                }
                if (ulen == 0 && isalpha((unsigned char) *s))
                        return -EINVAL;
                s += ulen;
                if (whole > (UINT64_MAX - 1) / unit)
                        return -ERANGE;
                part = whole * unit;
                /* One fractional digit at a time, as systemd does: no overflow. */
                for (uint64_t k = unit; frac && isdigit((unsigned char) *frac) && k > 0; frac++) {
                        k /= 10;
                        if (part > UINT64_MAX - 1 - (uint64_t) (*frac - '0') * k)
                                return -ERANGE;
                        part += (uint64_t) (*frac - '0') * k;
                }
                if (part > UINT64_MAX - 1 - total)
                        return -ERANGE;
                total += part;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

static int parse_calendar(const char *s, uint64_t now, uint64_t *ret) {
        struct tm tm = {};
        time_t t;
        const char *p;
        uint64_t frac = 0, frac_div = 1;
        bool utc = false, have_date = false;
        char *rest;
        size_t l;

        /* A trailing " UTC" or "Z" selects UTC; otherwise local time. */
        _cleanup_free_ char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        l = strlen(copy);
        if (l > 4 && strcmp(copy + l - 4, " UTC") == 0) {
                copy[l - 4] = '\0';
                utc = true;
        } else if (l > 1 && copy[l - 1] == 'Z') {
                copy[l - 1] = '\0';
                utc = true;
        }

        if (!utc) {
                time_t n = (time_t) (now / USEC_PER_SEC);
                localtime_r(&n, &tm);
        } else {
                time_t n = (time_t) (now / USEC_PER_SEC);
                gmtime_r(&n, &tm);
        }
        tm.tm_sec = tm.tm_min = tm.tm_hour = 0;

        struct tm today = tm;
        p = strptime(copy, "%Y-%m-%d", &tm);
        if (!p)
                tm = today; /* strptime may have filled fields before failing */
        if (p) {
                have_date = true;
                if (*p == ' ' || *p == 'T')
                        p++;
        } else
                p = copy;
        if (*p != '\0') {
                rest = strptime(p, "%H:%M:%S", &tm);
                if (!rest) {
                        tm.tm_sec = 0;
                        rest = strptime(p, "%H:%M", &tm);
                }
                if (!rest)
                        return -EINVAL;
                if (*rest == '.') {
                        for (rest++; isdigit((unsigned char) *rest); rest++)
                                if (frac_div < USEC_PER_SEC) {
                                        frac = frac * 10 + (uint64_t) (*rest - '0');
                                        frac_div *= 10;
                                }
                }
                if (*rest != '\0')
                        return -EINVAL;
        } else if (!have_date)
                return -EINVAL;

        tm.tm_isdst = -1;
        t = utc ? timegm(&tm) : mktime(&tm);
        if (t == (time_t) -1 || t < 0)
                return -ERANGE;
        *ret = (uint64_t) t * USEC_PER_SEC + frac * (USEC_PER_SEC / frac_div);
        return 0;
}

static uint64_t local_midnight(uint64_t now, int day_offset) {
        time_t n = (time_t) (now / USEC_PER_SEC);
        struct tm tm;

        localtime_r(&n, &tm);
        tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
        tm.tm_mday += day_offset;
        tm.tm_isdst = -1;
        return (uint64_t) mktime(&tm) * USEC_PER_SEC;
}

int timestamp_parse(const char *s, uint64_t now, uint64_t *ret) {
        uint64_t span;
        size_t l = strlen(s);
        int r;

        if (strcmp(s, "now") == 0)
                return *ret = now, 0;
        if (strcmp(s, "infinity") == 0)
                return *ret = USEC_INFINITY, 0;
        if (strcmp(s, "today") == 0)
                return *ret = local_midnight(now, 0), 0;
        if (strcmp(s, "yesterday") == 0)
                return *ret = local_midnight(now, -1), 0;
        if (strcmp(s, "tomorrow") == 0)
                return *ret = local_midnight(now, 1), 0;
        if (s[0] == '@') {
                r = timespan_parse(s + 1, &span);
                if (r < 0 || !isdigit((unsigned char) s[1]))
                        return -EINVAL;
                return *ret = span, 0;
        }
        if (s[0] == '+' || s[0] == '-') {
                r = timespan_parse(s + 1, &span);
                if (r < 0)
                        return r;
                if (s[0] == '+')
                        return span > UINT64_MAX - 1 - now ? -ERANGE : (*ret = now + span, 0);
                return span > now ? -ERANGE : (*ret = now - span, 0);
        }
        if (l > 4 && strcmp(s + l - 4, " ago") == 0) {
                _cleanup_free_ char *copy = strndup(s, l - 4);

                if (!copy)
                        return -ENOMEM;
                r = timespan_parse(copy, &span);
                if (r < 0)
                        return r;
                return span > now ? -ERANGE : (*ret = now - span, 0);
        }
        return parse_calendar(s, now, ret);
}

void timestamp_format(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == USEC_INFINITY || !gmtime_r(&t, &tm)) {
                snprintf(buf, size, "infinity");
                return;
        }
        strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}
