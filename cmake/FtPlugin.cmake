# ft_add_plugin(<target> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds one ftrun plugin: a MODULE library without the "lib" prefix, linked against the SDK, written to the
# build's plugin folder (inside the ftrun build) so that `ftrun` finds it without installing. Built-in plugins and
# third-party plugins use this same function; a third party gets it from `find_package(ftsdk)`.
function(ft_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LIBRARIES")
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "ft_add_plugin(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${arg_SOURCES})
  set_property(GLOBAL APPEND PROPERTY FTRUN_BUILTIN_PLUGINS ${target})
  target_link_libraries(${target} PRIVATE ftsdk::ftsdk ${arg_LIBRARIES})
  # Plugins export only their entry alias; everything else stays private to the library.
  set_target_properties(${target} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  # Optimised even when the project sets no build type: an unoptimised plugin makes every training step slow.
  # Unloadable: without -fno-gnu-unique, GCC's unique symbols pin the library in memory for good.
  target_compile_options(${target} PRIVATE $<$<CONFIG:>:-O2> $<$<CXX_COMPILER_ID:GNU>:-fno-gnu-unique>)
  if(FTRUN_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${FTRUN_PLUGIN_OUTPUT_DIR})
  endif()
  if(TARGET ft_torch_pch)
    target_precompile_headers(${target} REUSE_FROM ft_torch_pch)
  endif()
  if(FTRUN_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${FTRUN_PLUGIN_INSTALL_DIR})
  endif()
endfunction()

# ft_use_torch_pch(<target>): shares the project's precompiled LibTorch header with <target>.
function(ft_use_torch_pch target)
  target_link_libraries(${target} PRIVATE torch)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    # Executables compile with -fPIE, the shared header with -fPIC; GCC would silently ignore the header.
    target_compile_options(${target} PRIVATE -fPIC)
  endif()
  target_precompile_headers(${target} REUSE_FROM ft_torch_pch)
endfunction()
