/* CI-only declaration of Zephyr's secure random source. */
#ifndef BLEPAKE_CI_ZEPHYR_RANDOM_H
#define BLEPAKE_CI_ZEPHYR_RANDOM_H

#include <zephyr/kernel.h>

int sys_csrand_get(void *dst, size_t len);

#endif
