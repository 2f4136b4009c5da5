# What `cmake --install build --prefix DIR` puts in DIR (included by the
# top-level CMakeLists.txt):
#   bin/dlc                      the compiler
#   lib/dlc/libdlcrt.a           the runtime it links into every model.so (dlc
#                                looks for it at ../lib/dlc, codegen/Aot.cpp)
#   include/dlc/dlc_runtime.h, dlc_abi.h
#   lib/cmake/dlc/               find_package(dlc): dlcConfig.cmake, its version
#                                file, dlc_add_model (DlcAddModel.cmake)
#   lib/pkgconfig/dlc.pc         the same for pkg-config
include(CMakePackageConfigHelpers)

set(DLC_INSTALL_BINDIR bin)
set(DLC_INSTALL_INCLUDEDIR include/dlc)
set(DLC_INSTALL_RUNTIMEDIR lib/dlc)
set(DLC_INSTALL_CMAKEDIR lib/cmake/dlc)

install(TARGETS dlc RUNTIME DESTINATION ${DLC_INSTALL_BINDIR})
install(TARGETS dlcrt ARCHIVE DESTINATION ${DLC_INSTALL_RUNTIMEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/runtime/dlc_runtime.h ${CMAKE_SOURCE_DIR}/runtime/dlc_abi.h
        DESTINATION ${DLC_INSTALL_INCLUDEDIR})

# Paths inside are relative to the config file, which keeps the tree
# relocatable and right for `cmake --install --prefix` with any prefix.
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/dlcConfig.cmake.in ${CMAKE_BINARY_DIR}/cmake/dlcConfig.cmake
  INSTALL_DESTINATION ${DLC_INSTALL_CMAKEDIR}
  PATH_VARS DLC_INSTALL_BINDIR DLC_INSTALL_INCLUDEDIR DLC_INSTALL_RUNTIMEDIR)
# Before 1.0 a minor version may change the generated API, so find_package(dlc
# 0.1) accepts 0.1.x only.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/dlcConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/dlcConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/dlcConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/DlcAddModel.cmake
        DESTINATION ${DLC_INSTALL_CMAKEDIR})

# pkg-config has no relocatable paths worth the name (${pcfiledir} gives
# "lib/pkgconfig/../../include"), so dlc.pc is written at install time, when
# CMAKE_INSTALL_PREFIX is the prefix actually installed into.
install(CODE "set(DLC_PC_TEMPLATE \"${CMAKE_CURRENT_LIST_DIR}/dlc.pc.in\")
set(DLC_PC_STAGED \"${CMAKE_BINARY_DIR}/cmake/dlc.pc\")
set(DLC_VERSION \"${PROJECT_VERSION}\")")
install(CODE [[
set(DLC_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
configure_file("${DLC_PC_TEMPLATE}" "${DLC_PC_STAGED}" @ONLY)
file(INSTALL "${DLC_PC_STAGED}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/pkgconfig")
]])
