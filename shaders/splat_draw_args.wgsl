// Turns the survivor count into draw arguments: 6 vertices per splat, one instance.
@group(0) @binding(0) var<storage, read_write> count_in: array<u32>;
@group(0) @binding(1) var<storage, read_write> draw_args: array<u32>;

@compute @workgroup_size(1)
fn draw_args_main() {
  draw_args[0] = count_in[0] * 6u;
  draw_args[1] = 1u;
  draw_args[2] = 0u;
  draw_args[3] = 0u;
}
