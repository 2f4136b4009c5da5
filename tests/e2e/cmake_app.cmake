# dlc used from another project, as its users would: `cmake --install` into a
# fresh prefix, then examples/cmake_app (a copy, outside dlc's trees) found
# with find_package(dlc), built and run, installed and run; its model rebuilt
# when edited and only then; a missing model refused when configuring; a
# program linking dlc::runtime; dlc.pc through pkg-config.
#   cmake -DBUILD=<dlc build> -DSRC=<dlc source> -DWORK=<scratch dir>
#         -DVERSION=<dlc version> -DGENERATOR=<cmake generator> -P cmake_app.cmake
file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)

function(run what)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUT" "COMMAND")
  execute_process(COMMAND ${arg_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  if(arg_OUT)
    set(${arg_OUT} "${out}" PARENT_SCOPE)
  endif()
endfunction()

function(expect text pattern what)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: no match for '${pattern}' in:\n${text}")
  endif()
endfunction()

run("cmake --install" COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})
foreach(f lib/cmake/dlc/dlcConfig.cmake lib/cmake/dlc/dlcConfigVersion.cmake
          lib/cmake/dlc/DlcAddModel.cmake lib/pkgconfig/dlc.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
# The package's version is the project's; the binary must say the same.
run("dlc --version" COMMAND ${prefix}/bin/dlc --version OUT out)
expect("${out}" "^dlc ${VERSION} " "dlc --version against project(dlc VERSION ${VERSION})")

# The example, copied so that editing its model below touches no source.
# DLC_RUNTIME_LIB unset: the installed dlc must find its own runtime.
set(ENV{DLC_RUNTIME_LIB} "")
file(COPY ${SRC}/examples/cmake_app DESTINATION ${WORK})
set(app ${WORK}/cmake_app)
run("configuring examples/cmake_app against ${prefix}"
    COMMAND ${CMAKE_COMMAND} -S ${app} -B ${app}/build -G ${GENERATOR}
            -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run("building examples/cmake_app" COMMAND ${CMAKE_COMMAND} --build ${app}/build OUT out)
expect("${out}" "dlc: compiling spirals.dl into spirals.so and spirals.h" "first build")

run("running spirals_app" COMMAND ${app}/build/spirals_app ${WORK}/spirals.ckpt OUT out)
message(STATUS "spirals_app:\n${out}")
# -Dbatch=64 from dlc_add_model's OPTIONS reached dlc (the file says 32).
expect("${out}" "model spirals: batch 64," "spirals_app")
expect("${out}" "accuracy on 600 new points" "spirals_app")
string(REGEX MATCH "accuracy on 600 new points: ([0-9.]+)%" _ "${out}")
if(CMAKE_MATCH_1 LESS 90)
  message(FATAL_ERROR "spirals_app: accuracy ${CMAKE_MATCH_1}% < 90%")
endif()
expect("${out}" "a model loading it predicts the same" "spirals_app")

# Installed elsewhere, the program finds spirals.so beside it.
run("installing spirals_app" COMMAND ${CMAKE_COMMAND} --install ${app}/build
                                     --prefix ${WORK}/app-prefix)
run("running the installed spirals_app" COMMAND ${WORK}/app-prefix/bin/spirals_app
                                               ${WORK}/installed.ckpt OUT out)
expect("${out}" "a model loading it predicts the same" "the installed spirals_app")

# Up to date: the model is not recompiled. Edited: it is.
run("rebuilding" COMMAND ${CMAKE_COMMAND} --build ${app}/build OUT out)
if(out MATCHES "dlc: compiling")
  message(FATAL_ERROR "an up-to-date build recompiled the model:\n${out}")
endif()
file(APPEND ${app}/spirals.dl "# edited\n")
run("rebuilding after editing spirals.dl" COMMAND ${CMAKE_COMMAND} --build ${app}/build OUT out)
expect("${out}" "dlc: compiling spirals.dl" "the build after editing spirals.dl")

# A model file that does not exist is an error when configuring, naming it.
file(WRITE ${WORK}/missing/CMakeLists.txt
     "cmake_minimum_required(VERSION 3.20)\nproject(missing LANGUAGES NONE)\n"
     "find_package(dlc REQUIRED)\ndlc_add_model(net no_such_model.dl)\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK}/missing -B ${WORK}/missing/build
                        -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "dlc_add_model accepted a missing model file:\n${out}")
endif()
string(REGEX REPLACE "[ \n]+" " " out "${out}") # CMake wraps messages
expect("${out}" "dlc_add_model\\(net\\): the model file [^ ]*/missing/no_such_model.dl does not exist"
       "configuring with a missing model")

# dlc::runtime: a program that runs a model's entries through the runtime's
# own API (dlc_runtime.h), with the model's descriptor from its library.
file(WRITE ${WORK}/runtime_app/CMakeLists.txt
     "cmake_minimum_required(VERSION 3.20)\nproject(runtime_app C)\n"
     "find_package(dlc REQUIRED)\ndlc_add_model(spirals ${app}/spirals.dl)\n"
     "add_executable(runtime_app main.c)\n"
     "target_link_libraries(runtime_app PRIVATE spirals dlc::runtime)\n")
file(WRITE ${WORK}/runtime_app/main.c [[
#include <dlc_runtime.h>
#include <stdio.h>
#include "spirals.h"
int main(void) {
  dlc_context *ctx = dlc_create(spirals_metadata(), 1);
  const int entry = dlc_find_entry(spirals_metadata(), "predict");
  static float xy[SPIRALS_BATCH * 2], probs[SPIRALS_BATCH * 3];
  const void *inputs[] = {xy};
  void *outputs[] = {probs};
  const int rc = ctx && entry >= 0 ? dlc_run(ctx, entry, inputs, outputs, 1) : -1;
  printf("dlc_run: %d, probabilities summing to %.3f\n", rc, probs[0] + probs[1] + probs[2]);
  dlc_destroy(ctx);
  return rc;
}
]])
run("configuring a program using dlc::runtime"
    COMMAND ${CMAKE_COMMAND} -S ${WORK}/runtime_app -B ${WORK}/runtime_app/build
            -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix})
run("building a program using dlc::runtime"
    COMMAND ${CMAKE_COMMAND} --build ${WORK}/runtime_app/build)
run("running a program using dlc::runtime" COMMAND ${WORK}/runtime_app/build/runtime_app
    OUT out)
expect("${out}" "dlc_run: 0, probabilities summing to 1.000" "runtime_app")

# pkg-config, where it is installed (tools/install-deps.sh installs it).
find_program(PKG_CONFIG pkg-config)
if(NOT PKG_CONFIG)
  message(STATUS "pkg-config not found: dlc.pc not checked")
  return()
endif()
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
run("pkg-config --modversion dlc" COMMAND ${PKG_CONFIG} --modversion dlc OUT out)
expect("${out}" "^${VERSION}\n" "pkg-config --modversion dlc")
run("pkg-config --cflags dlc" COMMAND ${PKG_CONFIG} --cflags dlc OUT cflags)
string(STRIP "${cflags}" cflags)
if(NOT cflags STREQUAL "-I${prefix}/include/dlc")
  message(FATAL_ERROR "pkg-config --cflags dlc gave '${cflags}', not -I${prefix}/include/dlc")
endif()
foreach(var dlc runtime)
  run("pkg-config --variable=${var} dlc" COMMAND ${PKG_CONFIG} --variable=${var} dlc OUT path)
  string(STRIP "${path}" path)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "pkg-config --variable=${var} dlc names '${path}', which does not exist")
  endif()
endforeach()
# Those flags are enough to compile against the runtime's headers.
file(WRITE ${WORK}/uses_runtime.c "#include <dlc_runtime.h>\n"
           "int main(void) { return DLC_ABI_VERSION > 0 ? 0 : 1; }\n")
run("cc with pkg-config's flags" COMMAND cc ${cflags} -c ${WORK}/uses_runtime.c
                                         -o ${WORK}/uses_runtime.o)
