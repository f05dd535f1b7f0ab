/* Prints, as JSON, what the C compiler makes of <linux/gpio.h>: the size and field offsets of every struct
 * hal/gpio/uapi.ts encodes, every ioctl number and constant it uses. uapi-probe.test.ts compares the output with
 * ABI_TABLE key by key, in the same shape. */
#include <linux/gpio.h>
#include <stddef.h>
#include <stdio.h>

/* What goes before the next member: nothing right after an opening brace, a comma otherwise. */
static const char *sep = "";

#define OPEN(name) (printf("%s\"%s\":{", sep, name), sep = "")
#define CLOSE() (printf("}"), sep = ",")
#define STRUCT(s) (OPEN(#s), printf("\"size\":%zu,", sizeof(struct s)), OPEN("fields"))
#define END_STRUCT() (CLOSE(), CLOSE())
#define FIELD(s, f) (printf("%s\"%s\":%zu", sep, #f, offsetof(struct s, f)), sep = ",")
#define NUM(n) (printf("%s\"%s\":%llu", sep, #n, (unsigned long long)(n)), sep = ",")

int main(void) {
  printf("{");
  OPEN("structs");
  STRUCT(gpiochip_info);
  FIELD(gpiochip_info, name);
  FIELD(gpiochip_info, label);
  FIELD(gpiochip_info, lines);
  END_STRUCT();

  STRUCT(gpio_v2_line_values);
  FIELD(gpio_v2_line_values, bits);
  FIELD(gpio_v2_line_values, mask);
  END_STRUCT();

  STRUCT(gpio_v2_line_attribute);
  FIELD(gpio_v2_line_attribute, id);
  FIELD(gpio_v2_line_attribute, padding);
  FIELD(gpio_v2_line_attribute, flags);
  FIELD(gpio_v2_line_attribute, values);
  FIELD(gpio_v2_line_attribute, debounce_period_us);
  END_STRUCT();

  STRUCT(gpio_v2_line_config_attribute);
  FIELD(gpio_v2_line_config_attribute, attr);
  FIELD(gpio_v2_line_config_attribute, mask);
  END_STRUCT();

  STRUCT(gpio_v2_line_config);
  FIELD(gpio_v2_line_config, flags);
  FIELD(gpio_v2_line_config, num_attrs);
  FIELD(gpio_v2_line_config, padding);
  FIELD(gpio_v2_line_config, attrs);
  END_STRUCT();

  STRUCT(gpio_v2_line_request);
  FIELD(gpio_v2_line_request, offsets);
  FIELD(gpio_v2_line_request, consumer);
  FIELD(gpio_v2_line_request, config);
  FIELD(gpio_v2_line_request, num_lines);
  FIELD(gpio_v2_line_request, event_buffer_size);
  FIELD(gpio_v2_line_request, padding);
  FIELD(gpio_v2_line_request, fd);
  END_STRUCT();

  STRUCT(gpio_v2_line_info);
  FIELD(gpio_v2_line_info, name);
  FIELD(gpio_v2_line_info, consumer);
  FIELD(gpio_v2_line_info, offset);
  FIELD(gpio_v2_line_info, num_attrs);
  FIELD(gpio_v2_line_info, flags);
  FIELD(gpio_v2_line_info, attrs);
  FIELD(gpio_v2_line_info, padding);
  END_STRUCT();

  STRUCT(gpio_v2_line_event);
  FIELD(gpio_v2_line_event, timestamp_ns);
  FIELD(gpio_v2_line_event, id);
  FIELD(gpio_v2_line_event, offset);
  FIELD(gpio_v2_line_event, seqno);
  FIELD(gpio_v2_line_event, line_seqno);
  FIELD(gpio_v2_line_event, padding);
  END_STRUCT();

  CLOSE();
  OPEN("ioctls");
  NUM(GPIO_GET_CHIPINFO_IOCTL);
  NUM(GPIO_GET_LINEINFO_UNWATCH_IOCTL);
  NUM(GPIO_V2_GET_LINEINFO_IOCTL);
  NUM(GPIO_V2_GET_LINEINFO_WATCH_IOCTL);
  NUM(GPIO_V2_GET_LINE_IOCTL);
  NUM(GPIO_V2_LINE_SET_CONFIG_IOCTL);
  NUM(GPIO_V2_LINE_GET_VALUES_IOCTL);
  NUM(GPIO_V2_LINE_SET_VALUES_IOCTL);
  CLOSE();

  OPEN("constants");
  NUM(GPIO_MAX_NAME_SIZE);
  NUM(GPIO_V2_LINES_MAX);
  NUM(GPIO_V2_LINE_NUM_ATTRS_MAX);
  NUM(GPIO_V2_LINE_FLAG_USED);
  NUM(GPIO_V2_LINE_FLAG_ACTIVE_LOW);
  NUM(GPIO_V2_LINE_FLAG_INPUT);
  NUM(GPIO_V2_LINE_FLAG_OUTPUT);
  NUM(GPIO_V2_LINE_FLAG_EDGE_RISING);
  NUM(GPIO_V2_LINE_FLAG_EDGE_FALLING);
  NUM(GPIO_V2_LINE_FLAG_OPEN_DRAIN);
  NUM(GPIO_V2_LINE_FLAG_OPEN_SOURCE);
  NUM(GPIO_V2_LINE_FLAG_BIAS_PULL_UP);
  NUM(GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN);
  NUM(GPIO_V2_LINE_FLAG_BIAS_DISABLED);
  NUM(GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME);
  NUM(GPIO_V2_LINE_FLAG_EVENT_CLOCK_HTE);
  NUM(GPIO_V2_LINE_ATTR_ID_FLAGS);
  NUM(GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES);
  NUM(GPIO_V2_LINE_ATTR_ID_DEBOUNCE);
  NUM(GPIO_V2_LINE_EVENT_RISING_EDGE);
  NUM(GPIO_V2_LINE_EVENT_FALLING_EDGE);
  CLOSE();

  printf("}\n");
  return 0;
}
