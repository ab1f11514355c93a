{
  "variables": {
    "ternion_common_cflags": ["-O3", "-fno-math-errno", "-ffp-contract=off", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "<@(ternion_common_cflags)"],
    "cflags": ["<@(ternion_common_cflags)"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CFLAGS": ["-O3", "-ffp-contract=off"]
    },
    "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } }
  },
  "targets": [
    {
      "target_name": "ternion_kernels",
      "sources": ["<!@(node scripts/sources.cjs generic)"],
      "conditions": [
        ["target_arch=='x64'", {
          "dependencies": ["ternion_avx2", "ternion_avx512"],
          "defines": ["TERNION_X86=1"]
        }],
        ["OS=='linux'", { "libraries": ["-lpthread"] }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "ternion_avx2",
          "type": "static_library",
          "sources": ["<!@(node scripts/sources.cjs avx2)"],
          "defines": ["TERNION_X86=1"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mbmi2"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-mf16c", "-mbmi2"] }
        },
        {
          "target_name": "ternion_avx512",
          "type": "static_library",
          "sources": ["<!@(node scripts/sources.cjs avx512)"],
          "defines": ["TERNION_X86=1"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mbmi2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx512vbmi"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-mf16c", "-mbmi2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx512vbmi"] }
        }
      ]
    }]
  ]
}
