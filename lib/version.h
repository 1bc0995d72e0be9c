/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#ifndef LATCHKEY_VERSION
#define LATCHKEY_VERSION "0.1"
#endif
