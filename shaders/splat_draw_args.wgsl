// Turns the survivor count into draw arguments: 3 vertices per splat, one instance.
@group(0) @binding(0) var<storage, read_write> count_in: array<u32>;
@group(0) @binding(1) var<storage, read_write> draw_args: array<u32>;

@compute @workgroup_size(1)
fn draw_args_main() {
  draw_args[0] = count_in[0] * 3u;
  draw_args[1] = 1u;
  draw_args[2] = 0u;
  draw_args[3] = 0u;
}

// Workgroups for the projection of the Gaussians alive at t (counter[1]), 256 per group.
@group(0) @binding(0) var<storage, read_write> counts: array<u32>;
@group(0) @binding(1) var<storage, read_write> dispatch_args: array<u32>;

@compute @workgroup_size(1)
fn project_args_main() {
  let groups = (counts[1] + 255u) / 256u;
  let x = min(groups, 65535u);
  dispatch_args[0] = max(x, 1u);
  dispatch_args[1] = max((groups + x - 1u) / max(x, 1u), 1u);
  dispatch_args[2] = 1u;
}
