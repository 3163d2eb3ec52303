#include "cli/errors.h"

#include "cli/commands.h"
#include "log/log.h"

#include <ftsdk/error.h>

#include <exception>
#include <string>

namespace ft {

int report_current_exception() {
  try {
    throw;
  } catch (const ConfigError& e) {
    log::error(e.what());
    return kExitUsage;
  } catch (const PluginError& e) {
    log::error(e.what());
    return kExitPlugin;
  } catch (const DataError& e) {
    log::error(e.what());
    return kExitData;
  } catch (const StoreError& e) {
    log::error(e.what());
    return kExitStore;
  } catch (const ResourceError& e) {
    log::error(e.what());
    return kExitResource;
  } catch (const Error& e) {
    log::error(e.what());
    return kExitRunFailed;
  } catch (const std::exception& e) {
    log::error(std::string("unexpected error: ") + e.what());
    return kExitRunFailed;
  } catch (...) {
    log::error("unexpected error that is not a std::exception");
    return kExitRunFailed;
  }
}

}  // namespace ft
