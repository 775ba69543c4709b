/* CI-only declarations of the Zephyr flash map API the sample uses. */
#ifndef BLEPAKE_CI_ZEPHYR_FLASH_MAP_H
#define BLEPAKE_CI_ZEPHYR_FLASH_MAP_H

#include <zephyr/kernel.h>

struct flash_area;
/* The devicetree: the partition the sample's overlay defines. */
#define FIXED_PARTITION_ID(label) 7
int flash_area_open(uint8_t id, const struct flash_area **fa);
int flash_area_read(const struct flash_area *fa, long offset, void *dst, size_t len);
void flash_area_close(const struct flash_area *fa);

#endif
