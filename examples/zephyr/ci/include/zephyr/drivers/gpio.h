/* CI-only declarations of the Zephyr GPIO API the sample uses. */
#ifndef BLEPAKE_CI_ZEPHYR_GPIO_H
#define BLEPAKE_CI_ZEPHYR_GPIO_H

#include <zephyr/kernel.h>

struct device;
typedef uint32_t gpio_port_pins_t;
typedef uint8_t gpio_pin_t;
struct gpio_dt_spec {
    const struct device *port;
    gpio_pin_t pin;
    uint16_t dt_flags;
};
struct gpio_callback;
typedef void (*gpio_callback_handler_t)(const struct device *port, struct gpio_callback *cb,
                                        gpio_port_pins_t pins);
struct gpio_callback {
    gpio_callback_handler_t handler;
    gpio_port_pins_t pin_mask;
};

#define GPIO_INPUT (1U << 16)
#define GPIO_INT_EDGE_BOTH (1U << 17)
/* The devicetree: one button, sw0, on an undeclared port. */
#define DT_ALIAS(alias) alias
#define GPIO_DT_SPEC_GET(node, prop) {.port = NULL, .pin = 11, .dt_flags = 0}

bool gpio_is_ready_dt(const struct gpio_dt_spec *spec);
int gpio_pin_configure_dt(const struct gpio_dt_spec *spec, uint32_t extra_flags);
int gpio_pin_interrupt_configure_dt(const struct gpio_dt_spec *spec, uint32_t flags);
int gpio_pin_get_dt(const struct gpio_dt_spec *spec);
void gpio_init_callback(struct gpio_callback *callback, gpio_callback_handler_t handler,
                        gpio_port_pins_t pin_mask);
int gpio_add_callback(const struct device *port, struct gpio_callback *callback);

#endif
