/*
 * CI-only declarations of the Zephyr GATT API the sample uses. The
 * attribute macros expand to as many attributes as Zephyr's (a primary
 * service 1, a characteristic 2, a CCC 1), so indices into a service's
 * attributes are the same.
 */
#ifndef BLEPAKE_CI_ZEPHYR_GATT_H
#define BLEPAKE_CI_ZEPHYR_GATT_H

#include <zephyr/bluetooth/conn.h>
#include <zephyr/bluetooth/uuid.h>
#include <zephyr/kernel.h>

struct bt_gatt_attr;
typedef ssize_t (*bt_gatt_attr_read_func_t)(struct bt_conn *conn, const struct bt_gatt_attr *attr,
                                            void *buf, uint16_t len, uint16_t offset);
typedef ssize_t (*bt_gatt_attr_write_func_t)(struct bt_conn *conn,
                                             const struct bt_gatt_attr *attr, const void *buf,
                                             uint16_t len, uint16_t offset, uint8_t flags);
struct bt_gatt_attr {
    const struct bt_uuid *uuid;
    bt_gatt_attr_read_func_t read;
    bt_gatt_attr_write_func_t write;
    void *user_data;
    uint16_t handle;
    uint16_t perm;
};
struct bt_gatt_service_static {
    const struct bt_gatt_attr *attrs;
    size_t attr_count;
};

#define BT_GATT_CHRC_READ 0x02
#define BT_GATT_CHRC_WRITE_WITHOUT_RESP 0x04
#define BT_GATT_CHRC_WRITE 0x08
#define BT_GATT_CHRC_NOTIFY 0x10
#define BT_GATT_PERM_NONE 0
#define BT_GATT_PERM_READ 0x01
#define BT_GATT_PERM_WRITE 0x02
#define BT_GATT_CCC_NOTIFY 0x0001
#define BT_ATT_ERR_UNLIKELY 0x0e
#define BT_GATT_ERR(att_err) (-(att_err))

typedef void (*bt_gatt_ccc_changed_t)(const struct bt_gatt_attr *attr, uint16_t value);
extern const struct bt_uuid bt_uuid_gatt_primary, bt_uuid_gatt_chrc, bt_uuid_gatt_ccc;

#define BT_GATT_PRIMARY_SERVICE(service)                                       \
    {.uuid = &bt_uuid_gatt_primary, .user_data = (void *)(service)}
#define BT_GATT_CHARACTERISTIC(_uuid, _props, _perm, _read, _write, _user_data) \
    {.uuid = &bt_uuid_gatt_chrc, .perm = (_props)},                            \
    {.uuid = (_uuid), .read = (_read), .write = (_write),                      \
     .user_data = (_user_data), .perm = (_perm)}
#define BT_GATT_CCC(_changed, _perm)                                           \
    {.uuid = &bt_uuid_gatt_ccc, .user_data = (void *)(_changed), .perm = (_perm)}
#define BT_GATT_SERVICE_DEFINE(_name, ...)                                     \
    const struct bt_gatt_attr attr_##_name[] = {__VA_ARGS__};                  \
    const struct bt_gatt_service_static _name = {                             \
        .attrs = attr_##_name, .attr_count = ARRAY_SIZE(attr_##_name)}

int bt_gatt_notify(struct bt_conn *conn, const struct bt_gatt_attr *attr, const void *data,
                   uint16_t len);
uint16_t bt_gatt_get_mtu(struct bt_conn *conn);
ssize_t bt_gatt_attr_read(struct bt_conn *conn, const struct bt_gatt_attr *attr, void *buf,
                          uint16_t buf_len, uint16_t offset, const void *value,
                          uint16_t value_len);

#endif
