/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pamdriver: a small PAM application for the tests and the benchmark.
 *
 *   pamdriver SERVICE USER OP[,OP...]
 *
 * OPs: auth, acct, open, close, env (prints the PAM environment), passwd
 * (pam_chauthtok), hold:PATH (waits until PATH, e.g. a FIFO, reaches EOF),
 * end (pam_end now; a later OP starts a fresh handle).
 * Answers to prompts are read from stdin, one line each; at end of input the
 * conversation fails (PAM_CONV_ERR), as a closed terminal does. It prints
 * "PROMPT: text" (echo off), "PROMPT_ECHO_ON: text", "ERROR_MSG: text",
 * "TEXT_INFO: text", "ENV: NAME=VALUE", "FAIL_DELAY: usec status" (libpam's
 * randomised delay, which it would sleep on failure; the driver never sleeps) and
 * "RESULT op: code (text)".
 * It stops at the first op that fails and exits with its PAM code (0 if all succeed). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

static char *read_answer(void) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);

        if (n < 0) {
                free(line);
                return NULL;
        }
        if (n > 0 && line[n - 1] == '\n')
                line[n - 1] = 0;
        return line;
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *userdata) {
        struct pam_response *r = calloc((size_t) n, sizeof *r);

        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                switch (msg[i]->msg_style) {
                case PAM_PROMPT_ECHO_OFF:
                case PAM_PROMPT_ECHO_ON:
                        printf("%s: %s\n", msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ? "PROMPT" : "PROMPT_ECHO_ON", msg[i]->msg);
                        r[i].resp = read_answer();
                        if (!r[i].resp) {
                                printf("CONV: end of input\n");
                                for (int j = 0; j < i; j++)
                                        free(r[j].resp);
                                free(r);
                                return PAM_CONV_ERR;
                        }
                        break;
                case PAM_ERROR_MSG:
                        printf("ERROR_MSG: %s\n", msg[i]->msg);
                        break;
                case PAM_TEXT_INFO:
                        printf("TEXT_INFO: %s\n", msg[i]->msg);
                        break;
                default:
                        printf("UNKNOWN_MSG(%d): %s\n", msg[i]->msg_style, msg[i]->msg);
                        break;
                }
        }
        *resp = r;
        return PAM_SUCCESS;
}

static void fail_delay(int status, unsigned usec, void *userdata) {
        printf("FAIL_DELAY: %u %d\n", usec, status);
}

static int start(const char *service, const char *user, pam_handle_t **pamh) {
        static const struct pam_conv c = { conv, NULL };
        int r = pam_start(service, user, &c, pamh);

        if (r != PAM_SUCCESS) {
                printf("RESULT start: %d (%s)\n", r, pam_strerror(NULL, r));
                return r;
        }
        return pam_set_item(*pamh, PAM_FAIL_DELAY, (const void *) fail_delay);
}

static int hold(const char *path) {
        char buf[64];
        int fd;

        printf("HOLDING\n");
        fflush(stdout);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return PAM_SYSTEM_ERR;
        while (read(fd, buf, sizeof buf) > 0)
                ;
        close(fd);
        return PAM_SUCCESS;
}

int main(int argc, char *argv[]) {
        pam_handle_t *pamh = NULL;
        char *ops, *save = NULL;
        int r = PAM_SUCCESS;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc != 4) {
                fprintf(stderr, "usage: pamdriver SERVICE USER OP[,OP...]\n");
                return 2;
        }
        ops = argv[3];
        for (char *op = strtok_r(ops, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
                if (!pamh && strcmp(op, "end") != 0 && (r = start(argv[1], argv[2], &pamh)) != PAM_SUCCESS)
                        break;
                if (strcmp(op, "auth") == 0)
                        r = pam_authenticate(pamh, 0);
                else if (strcmp(op, "acct") == 0)
                        r = pam_acct_mgmt(pamh, 0);
                else if (strcmp(op, "open") == 0)
                        r = pam_open_session(pamh, 0);
                else if (strcmp(op, "close") == 0)
                        r = pam_close_session(pamh, 0);
                else if (strcmp(op, "passwd") == 0)
                        r = pam_chauthtok(pamh, 0);
                else if (strcmp(op, "env") == 0) {
                        char **env = pam_getenvlist(pamh);
                        r = env ? PAM_SUCCESS : PAM_BUF_ERR;
                        for (char **e = env; e && *e; e++) {
                                printf("ENV: %s\n", *e);
                                free(*e);
                        }
                        free(env);
                } else if (strncmp(op, "hold:", 5) == 0)
                        r = hold(op + 5);
                else if (strcmp(op, "end") == 0) {
                        if (pamh)
                                pam_end(pamh, r);
                        pamh = NULL;
                        continue;
                } else {
                        fprintf(stderr, "pamdriver: unknown op \"%s\"\n", op);
                        r = PAM_SYSTEM_ERR;
                }
                printf("RESULT %s: %d (%s)\n", op, r, pam_strerror(pamh, r));
                if (r != PAM_SUCCESS)
                        break;
        }
        if (pamh)
                pam_end(pamh, r);
        return r;
}
