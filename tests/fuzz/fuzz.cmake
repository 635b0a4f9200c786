# tests/fuzz/fuzz.cmake (included at the end of the top-level CMakeLists.txt): libFuzzer targets
# for every parser of outside input, and the ctest replay of their committed inputs.
#
#   fuzz_<name>     (XRAYCLS_FUZZ=ON, clang) the libFuzzer binary: the harness fuzz_<name>.c
#                   compiled together with the pure-C sources it exercises, all instrumented
#                   with -fsanitize=fuzzer,address,undefined. No libtorch. Run by scripts/fuzz.sh.
#   replay_<name>   (every build with tests) the same harness with replay_main.c instead of
#                   libFuzzer, linked against the normal libraries; the ctest test
#                   fuzz_replay_<name> feeds it corpus/<name>/ and regressions/<name>/, so every
#                   input that once crashed a parser stays a test without needing clang. Under
#                   XRAYCLS_SANITIZE it runs with ASan + UBSan like every other test.
set(core_srcs ${CMAKE_SOURCE_DIR}/src/core/error.c ${CMAKE_SOURCE_DIR}/src/core/fs.c
  ${CMAKE_SOURCE_DIR}/src/core/json.c ${CMAKE_SOURCE_DIR}/src/core/safetensors.c
  ${CMAKE_SOURCE_DIR}/src/core/checksum.c ${CMAKE_SOURCE_DIR}/src/core/strbuf.c ${CMAKE_SOURCE_DIR}/src/core/parse.c
  ${CMAKE_SOURCE_DIR}/src/core/opt.c)
file(GLOB weights_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/weights/*.c)
file(GLOB image_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/image/image_*.c
  ${CMAKE_SOURCE_DIR}/src/dicom/*.cpp)

# name | sources besides core | libraries of the replay | ctest label (the area)
set(fuzz_safetensors_srcs "")
set(fuzz_json_srcs        "")
set(fuzz_torchfile_srcs   ${weights_srcs})
set(fuzz_csv_srcs         ${CMAKE_SOURCE_DIR}/src/core/csv.c)
set(fuzz_config_srcs      ${CMAKE_SOURCE_DIR}/src/train/config.c)
set(fuzz_jpeg_srcs        ${image_srcs})
set(fuzz_png_srcs         ${image_srcs})
set(fuzz_jpeg_fast_srcs   ${image_srcs})
set(fuzz_dicom_srcs       ${image_srcs})
# the readers of the figures' data; plot.c compiled without cairo (its drawing is not fuzzed)
set(fuzz_plot_srcs        ${CMAKE_SOURCE_DIR}/src/core/csv.c ${CMAKE_SOURCE_DIR}/src/report/plot_data.c
  ${CMAKE_SOURCE_DIR}/src/report/plot.c)
set(fuzz_safetensors_libs xc_core)
set(fuzz_json_libs        xc_core)
set(fuzz_torchfile_libs   xc_weights xc_core)
set(fuzz_csv_libs         xc_core)
set(fuzz_config_libs      xc_train xc_core)
set(fuzz_jpeg_libs        xc_image xc_core)
set(fuzz_png_libs         xc_image xc_core)
set(fuzz_jpeg_fast_libs   xc_image xc_core)
set(fuzz_dicom_libs       xc_image xc_core)
set(fuzz_plot_libs        xc_report xc_image xc_core)
set(fuzz_safetensors_area core)
set(fuzz_json_area        core)
set(fuzz_torchfile_area   weights)
set(fuzz_csv_area         core)
set(fuzz_config_area      train)
set(fuzz_jpeg_area        image)
set(fuzz_png_area         image)
set(fuzz_jpeg_fast_area   image)
set(fuzz_dicom_area       image)
set(fuzz_plot_area        report)
set(fuzz_names safetensors json torchfile csv config jpeg png jpeg_fast dicom plot)

if(XRAYCLS_FUZZ)
  set(fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer -g)
  add_custom_target(fuzz_all)
  foreach(name ${fuzz_names})
    set(t fuzz_${name})
    add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c ${core_srcs} ${fuzz_${name}_srcs})
    target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/include ${CJSON_INCLUDE_DIR})
    target_compile_options(${t} PRIVATE ${XC_WARN} ${fuzz_flags})
    target_compile_definitions(${t} PRIVATE XRAYCLS_LIBFUZZER=1)
    target_link_options(${t} PRIVATE ${fuzz_flags})
    target_link_libraries(${t} PRIVATE ${CJSON_LIBRARY} ZLIB::ZLIB Threads::Threads ${M_LIBRARY})
    if(name MATCHES "^(jpeg|png|jpeg_fast|dicom)$")
      # the image library calls src/dicom (DCMTK itself is not instrumented)
      target_link_libraries(${t} PRIVATE PNG::PNG JPEG::JPEG ${XC_DICOM_LIBS})
      target_compile_definitions(${t} PRIVATE XRAYCLS_HAVE_DCMTK=${XRAYCLS_HAVE_DCMTK})
      if(XRAYCLS_HAVE_DCMTK)
        target_include_directories(${t} PRIVATE ${DCMTK_INCLUDE_DIR} ${OPENJPEG_INCLUDE_DIR})
      endif()
    endif()
    add_dependencies(fuzz_all ${t})
  endforeach()
endif()

# The replay needs no fuzzer; a fuzzing build (whose libraries are instrumented for coverage
# only) skips it.
if(BUILD_TESTING AND NOT XRAYCLS_FUZZ)
  foreach(name ${fuzz_names})
    set(t replay_${name})
    add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/fuzz_${name}.c ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
    target_compile_options(${t} PRIVATE ${XC_WARN})
    target_link_libraries(${t} PRIVATE ${fuzz_${name}_libs})
    add_test(NAME fuzz_replay_${name} COMMAND ${t}
      ${CMAKE_CURRENT_LIST_DIR}/corpus/${name} ${CMAKE_CURRENT_LIST_DIR}/regressions/${name})
    set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS "${fuzz_${name}_area};fuzz" TIMEOUT 300)
  endforeach()
endif()
