# dlc_add_model: compile a model at build time into a library target that an
# application links like any other. Installed with dlc and loaded by
# find_package(dlc); DLC_EXECUTABLE (set there) is the compiler it runs.
#
#   dlc_add_model(NAME MODEL.dl
#                 [OPTIONS dlc-option...]     # as given to dlc: -Dbatch=64 -O2 --no-fusion
#                 [OUTPUT_DIRECTORY DIR]      # default: the current build directory
#                 [DEPENDS file...])          # more files whose change recompiles it
#
# runs `dlc MODEL.dl -o DIR/NAME.so OPTIONS...`, which writes NAME.so and the
# header NAME.h beside it, and defines NAME, an imported shared library:
# `target_link_libraries(app PRIVATE NAME)` links NAME.so, puts DIR (so
# NAME.h) on app's include path, and compiles the model before app. Editing
# MODEL.dl or reinstalling dlc recompiles it. The functions in NAME.h are
# named after the model in the DSL (`model mnist_mlp(...)` gives
# mnist_mlp_create), whatever NAME is.
#
# NAME.so's soname is its file name, so a program finds it through its rpath:
# CMake gives executables in the build tree one that names DIR; an installed
# program needs NAME.so installed too (install(FILES $<TARGET_FILE:NAME> ...))
# and an INSTALL_RPATH that finds it, e.g. $ORIGIN.

function(dlc_add_model name model)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "OUTPUT_DIRECTORY" "OPTIONS;DEPENDS")
  set(usage "dlc_add_model(NAME MODEL.dl [OPTIONS ...] [OUTPUT_DIRECTORY DIR] [DEPENDS ...])")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "dlc_add_model(${name}): unexpected arguments "
                        "'${arg_UNPARSED_ARGUMENTS}'; usage: ${usage}")
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9_.+-]+$")
    message(FATAL_ERROR "dlc_add_model: '${name}' cannot name a target and its files "
                        "NAME.so, NAME.h; use letters, digits and _ . + -")
  endif()
  if(TARGET ${name})
    message(FATAL_ERROR "dlc_add_model(${name}): a target named ${name} already exists")
  endif()
  if(NOT DLC_EXECUTABLE OR NOT EXISTS "${DLC_EXECUTABLE}")
    message(FATAL_ERROR "dlc_add_model(${name}): the dlc compiler was not found "
                        "(DLC_EXECUTABLE='${DLC_EXECUTABLE}'); call find_package(dlc) first")
  endif()

  # Checked when configuring: a missing model would otherwise surface only at
  # build time, as "no rule to make" it.
  get_filename_component(model "${model}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}" OR IS_DIRECTORY "${model}")
    message(FATAL_ERROR "dlc_add_model(${name}): the model file ${model} does not exist")
  endif()

  # The output is this function's to choose, and what links NAME expects a
  # library, not a dump.
  foreach(opt IN LISTS arg_OPTIONS)
    if(opt MATCHES "^(-o|--emit)")
      message(FATAL_ERROR "dlc_add_model(${name}): OPTIONS cannot contain '${opt}': "
                          "the library is always ${name}.so (see OUTPUT_DIRECTORY)")
    endif()
  endforeach()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}")
  if(arg_OUTPUT_DIRECTORY)
    get_filename_component(dir "${arg_OUTPUT_DIRECTORY}" ABSOLUTE
                           BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  # An imported target's include directory must exist when CMake generates
  # the build, before the model is compiled into it.
  file(MAKE_DIRECTORY "${dir}")
  set(library "${dir}/${name}.so")
  set(header "${dir}/${name}.h")
  get_filename_component(shown "${model}" NAME)
  add_custom_command(
    OUTPUT "${library}" "${header}"
    COMMAND "${DLC_EXECUTABLE}" "${model}" -o "${library}" ${arg_OPTIONS}
    # The DSL's layers (dense, conv2d, ...) are compiled into dlc itself, so a
    # new dlc can change the model's code.
    DEPENDS "${model}" "${DLC_EXECUTABLE}" ${arg_DEPENDS}
    COMMENT "dlc: compiling ${shown} into ${name}.so and ${name}.h"
    VERBATIM)
  add_custom_target(dlc_compile_${name} DEPENDS "${library}" "${header}")

  # GLOBAL, like a library the project builds itself: a subdirectory may
  # define the model and its parent link it.
  add_library(${name} SHARED IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES
    IMPORTED_LOCATION "${library}"
    IMPORTED_SONAME "${name}.so"
    INTERFACE_INCLUDE_DIRECTORIES "${dir}")
  # An imported target builds nothing itself; CMake hands this dependency on
  # to every target that links it.
  add_dependencies(${name} dlc_compile_${name})
endfunction()
