// Test plugin that reports an ABI version this weir does not have (as if built against a future
// sdk.h). Its table is otherwise garbage on purpose: the loader must not read past abi_version.
#include <weir/sdk.h>

extern "C" __attribute__((visibility("default"))) const weir_plugin_info* weir_plugin_v1(void) {
  static const weir_plugin_info info = {999, nullptr, nullptr, 12345};
  return &info;
}
