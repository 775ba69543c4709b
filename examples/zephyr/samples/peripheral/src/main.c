/*
 * blepake on Zephyr / nRF Connect SDK: a peripheral serving the blepake
 * GATT service (PROTOCOL.md §2), its device side run by the C API.
 *
 * - Inbound (write, write without response): values go to
 *   blepake_device_input.
 * - Outbound (notify, with its CCCD): the transport notifies once the host
 *   has subscribed.
 * - Setup Info (read): the 32 bytes a host needs before typing the code.
 * - The device record (163 bytes, from `blepake provision`) is read from
 *   the `blepake_partition` flash partition, written at the factory.
 * - The attempt counter and bonds live in the settings subsystem (NVS)
 *   under "blepake/<slot key>".
 * - Randomness is sys_csrand_get.
 * - Button sw0: a short press opens the pairing window; held 5 s, it
 *   revokes every bond (a lost phone is cut off) and opens the window.
 *
 * The application's own messages: this sample echoes each one back.
 */

#include <stdio.h>
#include <string.h>

#include <zephyr/bluetooth/bluetooth.h>
#include <zephyr/bluetooth/conn.h>
#include <zephyr/bluetooth/gatt.h>
#include <zephyr/bluetooth/uuid.h>
#include <zephyr/drivers/gpio.h>
#include <zephyr/kernel.h>
#include <zephyr/random/random.h>
#include <zephyr/settings/settings.h>
#include <zephyr/storage/flash_map.h>

#include "blepake.h"

/* ---- The GATT service ---------------------------------------------------- */

/* 1c1e76e5-92cf-4ae5-aa94-909915550869 and its characteristics. */
static struct bt_uuid_128 service_uuid = BT_UUID_INIT_128(
    BT_UUID_128_ENCODE(0x1c1e76e5, 0x92cf, 0x4ae5, 0xaa94, 0x909915550869));
static struct bt_uuid_128 inbound_uuid = BT_UUID_INIT_128(
    BT_UUID_128_ENCODE(0x427dd4f3, 0xf491, 0x4620, 0x9a06, 0x0e4c4ccaf1c0));
static struct bt_uuid_128 outbound_uuid = BT_UUID_INIT_128(
    BT_UUID_128_ENCODE(0xc269ceba, 0xed49, 0x40a0, 0x8e22, 0x2b1cdfe8736f));
static struct bt_uuid_128 setup_info_uuid = BT_UUID_INIT_128(
    BT_UUID_128_ENCODE(0x52a8b660, 0x888b, 0x47d4, 0xa956, 0x04bb07f2ab3d));

static blepake_device device;
/* The GATT callbacks run in the Bluetooth thread, the button and the timer
 * in the system work queue: one lock for the device. */
static K_MUTEX_DEFINE(device_lock);

/* The one link: its connection, blepake link id, and whether the host has
 * enabled notifications. */
static struct bt_conn *current_conn;
static uint32_t current_link;
static bool notifying;

static void schedule_timer(void);

/* How long a central has to leave once its session has ended. */
#define HOST_LEAVES_WITHIN_MS 1000
static struct k_work_delayable leave_work;

static ssize_t write_inbound(struct bt_conn *conn, const struct bt_gatt_attr *attr,
                             const void *buf, uint16_t len, uint16_t offset, uint8_t flags);
static ssize_t read_setup_info(struct bt_conn *conn, const struct bt_gatt_attr *attr,
                               void *buf, uint16_t len, uint16_t offset);
static void outbound_ccc_changed(const struct bt_gatt_attr *attr, uint16_t value);

BT_GATT_SERVICE_DEFINE(blepake_service,
    BT_GATT_PRIMARY_SERVICE(&service_uuid),
    BT_GATT_CHARACTERISTIC(&inbound_uuid.uuid,
                           BT_GATT_CHRC_WRITE | BT_GATT_CHRC_WRITE_WITHOUT_RESP,
                           BT_GATT_PERM_WRITE, NULL, write_inbound, NULL),
    BT_GATT_CHARACTERISTIC(&outbound_uuid.uuid, BT_GATT_CHRC_NOTIFY, BT_GATT_PERM_NONE,
                           NULL, NULL, NULL),
    BT_GATT_CCC(outbound_ccc_changed, BT_GATT_PERM_READ | BT_GATT_PERM_WRITE),
    BT_GATT_CHARACTERISTIC(&setup_info_uuid.uuid, BT_GATT_CHRC_READ, BT_GATT_PERM_READ,
                           read_setup_info, NULL, NULL),
);

/* The Outbound value's attribute: after the service (0) and Inbound's
 * declaration and value (1, 2) comes Outbound's declaration (3). */
#define OUTBOUND_ATTR (&blepake_service.attrs[4])

/* ---- The transport: notifications on the current connection ------------- */

static bool can_notify(void *ctx) {
    (void)ctx;
    return current_conn != NULL && notifying;
}

static int32_t notify(void *ctx, const uint8_t *value, size_t len) {
    (void)ctx;
    return bt_gatt_notify(current_conn, OUTBOUND_ATTR, value, (uint16_t)len) == 0 ? 0 : -1;
}

static void on_event(void *ctx, blepake_conn *conn, const blepake_event *event) {
    (void)ctx;
    (void)conn;
    switch (event->kind) {
    case BLEPAKE_EVENT_CONNECTED:
        printk("blepake: session open (%s)\n", event->resumed ? "bonded" : "paired");
        break;
    case BLEPAKE_EVENT_FAILED:
        printk("blepake: failed, code %u%s\n", event->error, event->by_peer ? " (peer)" : "");
        /* The session is over: the central should leave; if it stays, the
         * link is dropped. Not at once: a disconnection can overtake the
         * alert still on its way, and the central would never learn why. */
        k_work_reschedule(&leave_work, K_MSEC(HOST_LEAVES_WITHIN_MS));
        break;
    default:
        break;
    }
}

/* The application: echo every message. */
static void on_message(void *ctx, blepake_conn *conn, const uint8_t *message, size_t len) {
    (void)ctx;
    if (blepake_conn_send(conn, message, len) != BLEPAKE_OK) {
        printk("blepake: echo dropped (queue full)\n");
    }
}

static blepake_transport transport(void) {
    blepake_transport t = {
        .ctx = NULL,
        .max_value_len = current_conn ? (size_t)bt_gatt_get_mtu(current_conn) - 3 : 20,
        .can_send = can_notify,
        .send = notify,
        .subscribe = NULL,
        .on_event = on_event,
        .on_message = on_message,
        .on_writable = NULL,
    };
    return t;
}

static uint64_t now_ms(void) {
    return (uint64_t)k_uptime_get();
}

/* ---- GATT and connection callbacks --------------------------------------- */

static ssize_t write_inbound(struct bt_conn *conn, const struct bt_gatt_attr *attr,
                             const void *buf, uint16_t len, uint16_t offset, uint8_t flags) {
    (void)attr;
    (void)flags;
    if (conn != current_conn || offset != 0) {
        return BT_GATT_ERR(BT_ATT_ERR_UNLIKELY);
    }
    k_mutex_lock(&device_lock, K_FOREVER);
    blepake_transport t = transport();
    int rc = blepake_device_input(&device, current_link, buf, len, now_ms(), &t);
    k_mutex_unlock(&device_lock);
    schedule_timer();
    return rc == BLEPAKE_OK ? (ssize_t)len : BT_GATT_ERR(BT_ATT_ERR_UNLIKELY);
}

static ssize_t read_setup_info(struct bt_conn *conn, const struct bt_gatt_attr *attr,
                               void *buf, uint16_t len, uint16_t offset) {
    uint8_t info[BLEPAKE_SETUP_INFO_LEN];
    k_mutex_lock(&device_lock, K_FOREVER);
    blepake_device_setup_info(&device, info);
    k_mutex_unlock(&device_lock);
    return bt_gatt_attr_read(conn, attr, buf, len, offset, info, sizeof info);
}

static void outbound_ccc_changed(const struct bt_gatt_attr *attr, uint16_t value) {
    (void)attr;
    k_mutex_lock(&device_lock, K_FOREVER);
    notifying = value == BT_GATT_CCC_NOTIFY;
    if (current_conn) {
        /* An answer may be waiting for the subscription (PROTOCOL.md §2). */
        blepake_transport t = transport();
        blepake_device_ready(&device, current_link, now_ms(), &t);
    }
    k_mutex_unlock(&device_lock);
}

static void connected(struct bt_conn *conn, uint8_t err) {
    if (err) {
        return;
    }
    k_mutex_lock(&device_lock, K_FOREVER);
    if (current_conn == NULL && blepake_device_accept(&device, now_ms(), &current_link) == BLEPAKE_OK) {
        current_conn = bt_conn_ref(conn);
        notifying = false;
    } else {
        /* One blepake link at a time. */
        bt_conn_disconnect(conn, BT_HCI_ERR_REMOTE_USER_TERM_CONN);
    }
    k_mutex_unlock(&device_lock);
    schedule_timer();
}

static void disconnected(struct bt_conn *conn, uint8_t reason) {
    (void)reason;
    k_mutex_lock(&device_lock, K_FOREVER);
    if (conn == current_conn) {
        blepake_transport t = transport();
        blepake_device_disconnected(&device, current_link, now_ms(), &t);
        blepake_device_remove(&device, current_link);
        bt_conn_unref(current_conn);
        current_conn = NULL;
        notifying = false;
    }
    k_mutex_unlock(&device_lock);
}

BT_CONN_CB_DEFINE(conn_callbacks) = {
    .connected = connected,
    .disconnected = disconnected,
};

/* ---- Deadlines --------------------------------------------------------- */

static struct k_work_delayable timer_work;

static void timer_expired(struct k_work *work) {
    (void)work;
    k_mutex_lock(&device_lock, K_FOREVER);
    if (current_conn) {
        blepake_transport t = transport();
        blepake_device_timer(&device, current_link, now_ms(), &t);
    }
    k_mutex_unlock(&device_lock);
    schedule_timer();
}

static void leave_expired(struct k_work *work) {
    (void)work;
    k_mutex_lock(&device_lock, K_FOREVER);
    if (current_conn && blepake_device_state(&device, current_link) == BLEPAKE_STATE_CLOSED) {
        bt_conn_disconnect(current_conn, BT_HCI_ERR_REMOTE_USER_TERM_CONN);
    }
    k_mutex_unlock(&device_lock);
}

static void schedule_timer(void) {
    k_mutex_lock(&device_lock, K_FOREVER);
    int64_t at = current_conn ? blepake_device_next_timeout(&device, current_link) : -1;
    k_mutex_unlock(&device_lock);
    if (at >= 0) {
        int64_t wait = at - (int64_t)now_ms();
        k_work_reschedule(&timer_work, K_MSEC(wait > 0 ? wait : 0));
    }
}

/* ---- Storage: the settings subsystem, "blepake/<slot key in hex>" ------ */

static void slot_name(uint16_t key, char *name, size_t cap) {
    snprintf(name, cap, "blepake/%04x", key);
}

struct slot_read {
    uint8_t *buf;
    size_t cap;
    int32_t len; /* -1: not found */
};

static int load_slot(const char *key, size_t len, settings_read_cb read_cb, void *cb_arg,
                     void *param) {
    struct slot_read *slot = param;
    if (settings_name_next(key, NULL) != 0) {
        return 0; /* a deeper name, not this slot */
    }
    ssize_t got = read_cb(cb_arg, slot->buf, len < slot->cap ? len : slot->cap);
    slot->len = got < 0 ? -2 : (int32_t)got;
    return 0;
}

static int32_t storage_read(void *ctx, uint16_t key, uint8_t *buf, size_t cap) {
    (void)ctx;
    char name[16];
    slot_name(key, name, sizeof name);
    struct slot_read slot = {.buf = buf, .cap = cap, .len = -1};
    if (settings_load_subtree_direct(name, load_slot, &slot) != 0) {
        return -2;
    }
    return slot.len;
}

/* settings_save_one appends a new NVS entry: until it has been written the
 * old value stands, which the device's storage contract allows. */
static int32_t storage_write(void *ctx, uint16_t key, const uint8_t *value, size_t len) {
    (void)ctx;
    char name[16];
    slot_name(key, name, sizeof name);
    return settings_save_one(name, value, len) == 0 ? 0 : -2;
}

static int32_t storage_erase(void *ctx, uint16_t key) {
    (void)ctx;
    char name[16];
    slot_name(key, name, sizeof name);
    return settings_delete(name) == 0 ? 0 : -2;
}

/* ---- Randomness -------------------------------------------------------- */

static void fill_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    if (sys_csrand_get(buf, len) != 0) {
        /* No secure randomness: nothing blepake does is safe without it. */
        k_panic();
    }
}

/* ---- The pairing-window button ----------------------------------------- */

#define LONG_PRESS_MS 5000
static const struct gpio_dt_spec button = GPIO_DT_SPEC_GET(DT_ALIAS(sw0), gpios);
static struct gpio_callback button_callback;
static int64_t pressed_at;
static struct k_work button_work;
static bool long_press;

static void button_pressed(struct k_work *work) {
    (void)work;
    k_mutex_lock(&device_lock, K_FOREVER);
    if (long_press && blepake_device_revoke_all_bonds(&device) == BLEPAKE_OK) {
        printk("blepake: every bond revoked\n");
    }
    if (blepake_device_open_pairing_window(&device, now_ms()) == BLEPAKE_OK) {
        printk("blepake: pairing window open\n");
    }
    k_mutex_unlock(&device_lock);
}

static void button_changed(const struct device *port, struct gpio_callback *cb, uint32_t pins) {
    (void)port;
    (void)cb;
    (void)pins;
    if (gpio_pin_get_dt(&button) > 0) {
        pressed_at = k_uptime_get();
        return;
    }
    long_press = k_uptime_get() - pressed_at >= LONG_PRESS_MS;
    k_work_submit(&button_work);
}

static int setup_button(void) {
    if (!gpio_is_ready_dt(&button) || gpio_pin_configure_dt(&button, GPIO_INPUT) != 0 ||
        gpio_pin_interrupt_configure_dt(&button, GPIO_INT_EDGE_BOTH) != 0) {
        return -1;
    }
    gpio_init_callback(&button_callback, button_changed, BIT(button.pin));
    gpio_add_callback(button.port, &button_callback);
    k_work_init(&button_work, button_pressed);
    return 0;
}

/* ---- Start ------------------------------------------------------------- */

static const struct bt_data advertising[] = {
    BT_DATA_BYTES(BT_DATA_FLAGS, (BT_LE_AD_GENERAL | BT_LE_AD_NO_BREDR)),
    BT_DATA_BYTES(BT_DATA_UUID128_ALL,
                  BT_UUID_128_ENCODE(0x1c1e76e5, 0x92cf, 0x4ae5, 0xaa94, 0x909915550869)),
};

/* The record written at the factory (`blepake provision`). */
static int read_record(uint8_t *record) {
    const struct flash_area *area;
    if (flash_area_open(FIXED_PARTITION_ID(blepake_partition), &area) != 0) {
        return -1;
    }
    int rc = flash_area_read(area, 0, record, BLEPAKE_RECORD_LEN);
    flash_area_close(area);
    return rc;
}

int main(void) {
    uint8_t record[BLEPAKE_RECORD_LEN];
    if (settings_subsys_init() != 0 || read_record(record) != 0) {
        printk("blepake: no storage or no device record\n");
        return 0;
    }
    blepake_storage storage = {
        .ctx = NULL, .read = storage_read, .write = storage_write, .erase = storage_erase};
    blepake_rng rng = {.ctx = NULL, .fill = fill_random};
    int rc = blepake_device_init(&device, record, sizeof record, NULL, storage, rng, now_ms());
    memset(record, 0, sizeof record);
    if (rc != BLEPAKE_OK) {
        printk("blepake: the device record is not valid (%d)\n", rc);
        return 0;
    }
    k_work_init_delayable(&timer_work, timer_expired);
    k_work_init_delayable(&leave_work, leave_expired);
    if (setup_button() != 0) {
        printk("blepake: no button: the pairing window opens only while unbonded\n");
    }
    if (bt_enable(NULL) != 0 ||
        bt_le_adv_start(BT_LE_ADV_CONN, advertising, ARRAY_SIZE(advertising), NULL, 0) != 0) {
        printk("blepake: Bluetooth did not start\n");
        return 0;
    }
    printk("blepake: advertising\n");
    return 0;
}
