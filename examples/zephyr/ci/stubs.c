/*
 * Bodies for the Zephyr declarations in ci/include, so that the CI can
 * link the sample with libblepake_ffi.a into an image and see every symbol
 * resolve. They do nothing useful: the image is built, never run.
 */
#include <stdarg.h>
#include <stdio.h>

#include <zephyr/bluetooth/bluetooth.h>
#include <zephyr/bluetooth/conn.h>
#include <zephyr/bluetooth/gatt.h>
#include <zephyr/drivers/gpio.h>
#include <zephyr/kernel.h>
#include <zephyr/random/random.h>
#include <zephyr/settings/settings.h>
#include <zephyr/storage/flash_map.h>

int64_t k_uptime_get(void) { return 0; }
void printk(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
}
void k_panic(void) {
    for (;;) {
    }
}
int k_mutex_lock(struct k_mutex *mutex, k_timeout_t timeout) {
    (void)timeout;
    mutex->locked++;
    return 0;
}
int k_mutex_unlock(struct k_mutex *mutex) {
    mutex->locked--;
    return 0;
}
void k_work_init(struct k_work *work, k_work_handler_t handler) { work->handler = handler; }
int k_work_submit(struct k_work *work) {
    work->handler(work);
    return 1;
}
void k_work_init_delayable(struct k_work_delayable *dwork, k_work_handler_t handler) {
    dwork->work.handler = handler;
}
int k_work_reschedule(struct k_work_delayable *dwork, k_timeout_t delay) {
    (void)dwork;
    (void)delay;
    return 0;
}

int bt_enable(bt_ready_cb_t cb) {
    (void)cb;
    return 0;
}
const struct bt_le_adv_param bt_le_adv_conn = {0};
int bt_le_adv_start(const struct bt_le_adv_param *param, const struct bt_data *ad, size_t ad_len,
                    const struct bt_data *sd, size_t sd_len) {
    (void)param, (void)ad, (void)ad_len, (void)sd, (void)sd_len;
    return 0;
}
struct bt_conn *bt_conn_ref(struct bt_conn *conn) { return conn; }
void bt_conn_unref(struct bt_conn *conn) { (void)conn; }
int bt_conn_disconnect(struct bt_conn *conn, uint8_t reason) {
    (void)conn, (void)reason;
    return 0;
}
const struct bt_uuid bt_uuid_gatt_primary = {0}, bt_uuid_gatt_chrc = {0}, bt_uuid_gatt_ccc = {0};
int bt_gatt_notify(struct bt_conn *conn, const struct bt_gatt_attr *attr, const void *data,
                   uint16_t len) {
    (void)conn, (void)attr, (void)data, (void)len;
    return 0;
}
uint16_t bt_gatt_get_mtu(struct bt_conn *conn) {
    (void)conn;
    return 23;
}
ssize_t bt_gatt_attr_read(struct bt_conn *conn, const struct bt_gatt_attr *attr, void *buf,
                          uint16_t buf_len, uint16_t offset, const void *value,
                          uint16_t value_len) {
    (void)conn, (void)attr, (void)buf, (void)buf_len, (void)offset, (void)value;
    return value_len;
}

int settings_subsys_init(void) { return 0; }
int settings_save_one(const char *name, const void *value, size_t val_len) {
    (void)name, (void)value, (void)val_len;
    return 0;
}
int settings_delete(const char *name) {
    (void)name;
    return 0;
}
int settings_load_subtree_direct(const char *subtree, settings_load_direct_cb cb, void *param) {
    (void)subtree, (void)cb, (void)param;
    return 0;
}
int settings_name_next(const char *name, const char **next) {
    (void)name;
    if (next) *next = NULL;
    return 0;
}

int sys_csrand_get(void *dst, size_t len) {
    (void)dst, (void)len;
    return -1;
}

bool gpio_is_ready_dt(const struct gpio_dt_spec *spec) {
    (void)spec;
    return false;
}
int gpio_pin_configure_dt(const struct gpio_dt_spec *spec, uint32_t extra_flags) {
    (void)spec, (void)extra_flags;
    return -1;
}
int gpio_pin_interrupt_configure_dt(const struct gpio_dt_spec *spec, uint32_t flags) {
    (void)spec, (void)flags;
    return -1;
}
int gpio_pin_get_dt(const struct gpio_dt_spec *spec) {
    (void)spec;
    return 0;
}
void gpio_init_callback(struct gpio_callback *callback, gpio_callback_handler_t handler,
                        gpio_port_pins_t pin_mask) {
    callback->handler = handler;
    callback->pin_mask = pin_mask;
}
int gpio_add_callback(const struct device *port, struct gpio_callback *callback) {
    (void)port, (void)callback;
    return 0;
}

int flash_area_open(uint8_t id, const struct flash_area **fa) {
    (void)id;
    *fa = NULL;
    return -1;
}
int flash_area_read(const struct flash_area *fa, long offset, void *dst, size_t len) {
    (void)fa, (void)offset, (void)dst, (void)len;
    return -1;
}
void flash_area_close(const struct flash_area *fa) { (void)fa; }
