// Test plugin: a shared library that does not export weir_plugin_v1 (e.g. a typo in its name).
#include <weir/sdk.h>

extern "C" __attribute__((visibility("default"))) const weir_plugin_info* weir_plugin_v2(void) {
  return nullptr;
}
