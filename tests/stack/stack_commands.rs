use payhuk_stack_tests::stack;
use xtask::stack::UpOutcome;

#[test]
fn up_again_reports_the_stack_already_up() {
    let mut stack = stack();
    assert_eq!(stack.up().unwrap(), UpOutcome::AlreadyUp);
    assert!(stack.is_up());
}
